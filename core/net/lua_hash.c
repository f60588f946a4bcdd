/* rigelk8s.hash (kube.hash in the plugin): message digests from OpenSSL's libcrypto,
 * which libcurl's TLS already loads, so no digest is written by hand here.
 *
 *   hash.sha256(data) -> 64 lowercase hex digits */
#include <lauxlib.h>
#include <lua.h>
#include <openssl/evp.h>

#include "lua_modules.h"

static int hash_sha256(lua_State *L)
{
    size_t len;
    const char *data = luaL_checklstring(L, 1, &len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
        return luaL_error(L, "hash.sha256: OpenSSL's EVP_Digest failed");
    static const char hex[] = "0123456789abcdef";
    char out[2 * EVP_MAX_MD_SIZE];
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    lua_pushlstring(L, out, 2 * (size_t)n);
    return 1;
}

int luaopen_rigelk8s_hash(lua_State *L)
{
    static const luaL_Reg fns[] = {{"sha256", hash_sha256}, {NULL, NULL}};
    luaL_newlib(L, fns);
    return 1;
}
