/* xmlrpc.h — the XML-RPC wire format (what a ROS 1 master speaks), between rk_value trees
 * and bytes. Parsing is expat's; this module only maps XML-RPC elements to values.
 *
 * Ownership: rk_xmlrpc_encode_call appends to the caller's buffer and borrows params.
 * rk_xmlrpc_decode_response gives the caller a new tree in *out (free with rk_value_free).
 *
 * Value mapping: <int>/<i4>/<i8> -> RK_INT, <boolean> -> RK_BOOL, <double> -> RK_FLOAT,
 * <string> and untyped <value> text -> RK_STRING, <base64> and <dateTime.iso8601> ->
 * RK_STRING as written, <nil/> -> RK_NULL, <array> -> RK_SEQ, <struct> -> RK_MAP. */
#ifndef RK_XMLRPC_H
#define RK_XMLRPC_H

#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "value.h"

/* Appends <methodCall> for method with params (a sequence, or NULL for none). Strings are
 * escaped; RK_ERR_INVALID when params is not a sequence or nests deeper than RK_MAX_DEPTH. */
rk_status rk_xmlrpc_encode_call(rk_buf *out, const char *method, const rk_value *params,
                                rk_error *err);

/* Decodes a <methodResponse>. RK_OK: *out is the single return value. A <fault>: returns
 * RK_ERR_HTTP with *out = {faultCode, faultString} and err naming both. RK_ERR_PARSE for
 * anything that is not a well-formed XML-RPC response (err says where: line and column);
 * documents with a DOCTYPE are refused (no entity expansion from the network). */
rk_status rk_xmlrpc_decode_response(const char *body, size_t len, rk_value **out, rk_error *err);

#endif
