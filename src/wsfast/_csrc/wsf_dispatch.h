/* The kernel dispatch of one unit, for its <unit>_portable.c:
 *
 *     #define WSF_UNIT mask
 *     #include "wsf_dispatch.h"
 *
 * defines wsf_<unit>_kernel(level) (declared in <unit>.h, with the type
 * wsf_<unit>_fn and a wsf_<unit>_<level> per row of wsf_levels.h): the
 * kernel the unit runs at `level`, its own or the one the level borrows, or
 * NULL when this build or this CPU cannot run the level.
 *
 * setup.py defines WSF_HAVE_<unit>_<level> to 1 for every kernel file it
 * compiles into the module and to 0 for every other row, so the table below
 * never names a kernel that was not compiled.
 */
#include "wsf_cpu.h"

#define WSF_CAT_(a, b, c) a##b##c
#define WSF_CAT(a, b, c) WSF_CAT_(a, b, c)
#define WSF_UNIT_NAME(suffix) WSF_CAT(wsf_, WSF_UNIT, suffix)
/* WSF_PICK(bit)(yes, no): `yes` when bit expands to 1, `no` when to 0. */
#define WSF_PICK(bit) WSF_PICK_(bit)
#define WSF_PICK_(bit) WSF_PICK_##bit
#define WSF_PICK_0(yes, no) no
#define WSF_PICK_1(yes, no) yes

/* The unit's own kernels, by level; NULL where it has no file for the level. */
static const WSF_UNIT_NAME(_fn) WSF_UNIT_NAME(_own)[WSF_LEVEL_COUNT] = {
#define WSF_LEVEL(name, arch, cc_flags, msvc_flags, features, borrows)                      \
    WSF_PICK(WSF_CAT(WSF_HAVE_, WSF_UNIT, _##name))(WSF_UNIT_NAME(_##name), NULL),
#include "wsf_levels.h"
};

WSF_UNIT_NAME(_fn) WSF_UNIT_NAME(_kernel)(int level) {
    if (!wsf_level_supported(level))
        return NULL;
    while (WSF_UNIT_NAME(_own)[level] == NULL && wsf_level_borrows(level) != level)
        level = wsf_level_borrows(level);
    return WSF_UNIT_NAME(_own)[level];
}

#undef WSF_PICK_1
#undef WSF_PICK_0
#undef WSF_PICK_
#undef WSF_PICK
#undef WSF_UNIT_NAME
#undef WSF_CAT
#undef WSF_CAT_
