/* pg_shim.h: the fuzz harnesses' handles on pg_shim.c */
#ifndef KCS_PG_SHIM_H
#define KCS_PG_SHIM_H

extern void shim_init(void);
extern void shim_advance_clock(int64 usecs);
extern long shim_slept_ms;

#endif
