/* diff.h — line diffs for `rigelk8s diff`: Myers' O(ND) algorithm in linear space (the
 * middle-snake divide and conquer of GNU diff's diffseq.h), printed as a unified diff.
 *
 * Output format (what `rigelk8s diff` prints and its tests read):
 *   --- <from>
 *   +++ <to>
 *   @@ -<a_start>,<a_len> +<b_start>,<b_len> @@     (an empty range names the line before
 *                                                   it, 0 at the top, as GNU diff does)
 *   ' ', '-' or '+' and the line without its newline
 *   "\ No newline at end of file" after a last line that has no newline
 * with `context` unchanged lines around each change, and hunks closer than 2*context+1
 * lines joined. Equal texts give an empty output. A text is split after each '\n'; an
 * empty text has no lines. */
#ifndef RK_DIFF_H
#define RK_DIFF_H

#include <stddef.h>

#include "buf.h"
#include "error.h"

typedef struct {
    const char *from; /* the "---" name; NULL: "a" */
    const char *to;   /* the "+++" name; NULL: "b" */
    int context;      /* unchanged lines around a change; negative: 3 */
} rk_diff_opts;

/* Appends the unified diff of a and b to out. Returns RK_OK, or RK_ERR_NOMEM (err set). */
rk_status rk_diff_unified(const char *a, size_t a_len, const char *b, size_t b_len,
                          const rk_diff_opts *opts, rk_buf *out, rk_error *err);

#endif
