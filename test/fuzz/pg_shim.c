/*-------------------------------------------------------------------------
 *
 * pg_shim.c
 *	  Just enough of the PostgreSQL backend for the extension's transport
 *	  and parsing code (src/shopify.c, src/auth.c, src/ratelimit.c,
 *	  src/http.c) to run in a standalone libFuzzer binary.
 *
 *	  - memory contexts: each context keeps a list of its chunks (malloc'd),
 *	    so MemoryContextReset() frees them and AddressSanitizer sees every
 *	    use after a reset; the harness resets its per-input context after
 *	    each input, as the worker's contexts are reset between batches;
 *	  - ereport(ERROR) and elog(ERROR) abort(): no ERROR is reachable from
 *	    a reply the shop sends, so one is a finding;
 *	  - a fake clock that WaitLatch() advances (no real sleeping);
 *	  - SPI: every statement "succeeds" with no rows.
 *
 *	  libpgport (pg_snprintf, pg_strcasecmp, ...) and libpgcommon
 *	  (hash_bytes, pg_prng, stringinfo, psprintf) supply the rest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/procsignal.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "kcloud_shopify.h"
#include "pg_shim.h"

/* ------------------------------------------------------------ memory */

typedef struct ShimChunk
{
	struct ShimChunk *prev;
	struct ShimChunk *next;
	struct ShimCxt *cxt;
	size_t		size;
	uint64		magic;
	/* the caller's bytes follow, MAXALIGN'd (the header is 40 bytes) */
	uint64		pad;
} ShimChunk;

#define CHUNK_MAGIC UINT64CONST(0x6b63735f6368756e)
#define HDR (sizeof(ShimChunk))

typedef struct ShimCxt
{
	ShimChunk	head;			/* sentinel of a circular list */
	const char *name;
} ShimCxt;

static ShimCxt top_cxt;
MemoryContext TopMemoryContext = NULL;
MemoryContext CurrentMemoryContext = NULL;
MemoryContext ErrorContext = NULL;

static void
cxt_init(ShimCxt *c, const char *name)
{
	c->head.prev = c->head.next = &c->head;
	c->name = name;
}

void
shim_init(void)
{
	if (TopMemoryContext != NULL)
		return;
	cxt_init(&top_cxt, "TopMemoryContext");
	TopMemoryContext = (MemoryContext) &top_cxt;
	CurrentMemoryContext = TopMemoryContext;
	ErrorContext = TopMemoryContext;
}

static void *
chunk_alloc(MemoryContext context, Size size, bool zero)
{
	ShimCxt    *c = (ShimCxt *) context;
	ShimChunk  *ch;

	if (c == NULL)
	{
		shim_init();
		c = (ShimCxt *) CurrentMemoryContext;
	}
	if (size > MaxAllocHugeSize)
	{
		fprintf(stderr, "shim: invalid memory alloc request size %zu\n", (size_t) size);
		abort();
	}
	ch = zero ? calloc(1, HDR + size) : malloc(HDR + size);
	if (ch == NULL)
		abort();
	ch->cxt = c;
	ch->size = size;
	ch->magic = CHUNK_MAGIC;
	ch->next = c->head.next;
	ch->prev = &c->head;
	c->head.next->prev = ch;
	c->head.next = ch;
	return (char *) ch + HDR;
}

static ShimChunk *
chunk_of(void *p)
{
	ShimChunk  *ch = (ShimChunk *) ((char *) p - HDR);

	if (ch->magic != CHUNK_MAGIC)
	{
		fprintf(stderr, "shim: pfree/repalloc of a pointer palloc did not return\n");
		abort();
	}
	return ch;
}

static void
chunk_unlink(ShimChunk *ch)
{
	ch->prev->next = ch->next;
	ch->next->prev = ch->prev;
	ch->magic = 0;
}

void *
palloc(Size size)
{
	return chunk_alloc(CurrentMemoryContext, size, false);
}

void *
palloc0(Size size)
{
	return chunk_alloc(CurrentMemoryContext, size, true);
}

void *
palloc_extended(Size size, int flags)
{
	return chunk_alloc(CurrentMemoryContext, size, (flags & MCXT_ALLOC_ZERO) != 0);
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, false);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	return chunk_alloc(context, size, true);
}

void *
MemoryContextAllocExtended(MemoryContext context, Size size, int flags)
{
	return chunk_alloc(context, size, (flags & MCXT_ALLOC_ZERO) != 0);
}

void
pfree(void *pointer)
{
	ShimChunk  *ch = chunk_of(pointer);

	chunk_unlink(ch);
	free(ch);
}

void *
repalloc(void *pointer, Size size)
{
	ShimChunk  *ch = chunk_of(pointer);
	ShimCxt    *c = ch->cxt;
	void	   *n = chunk_alloc((MemoryContext) c, size, false);

	memcpy(n, pointer, Min(size, ch->size));
	pfree(pointer);
	return n;
}

void *
repalloc_huge(void *pointer, Size size)
{
	return repalloc(pointer, size);
}

char *
MemoryContextStrdup(MemoryContext context, const char *string)
{
	size_t		n = strlen(string) + 1;
	char	   *r = chunk_alloc(context, n, false);

	memcpy(r, string, n);
	return r;
}

char *
pstrdup(const char *in)
{
	return MemoryContextStrdup(CurrentMemoryContext, in);
}

char *
pnstrdup(const char *in, Size len)
{
	size_t		n = strnlen(in, len);
	char	   *r = palloc(n + 1);

	memcpy(r, in, n);
	r[n] = '\0';
	return r;
}

MemoryContext
AllocSetContextCreateInternal(MemoryContext parent, const char *name,
							  Size minContextSize, Size initBlockSize,
							  Size maxBlockSize)
{
	ShimCxt    *c = calloc(1, sizeof(ShimCxt));

	if (c == NULL)
		abort();
	cxt_init(c, name);
	return (MemoryContext) c;
}

void
MemoryContextReset(MemoryContext context)
{
	ShimCxt    *c = (ShimCxt *) context;

	while (c->head.next != &c->head)
	{
		ShimChunk  *ch = c->head.next;

		chunk_unlink(ch);
		free(ch);
	}
}

void
MemoryContextResetOnly(MemoryContext context)
{
	MemoryContextReset(context);
}

void
MemoryContextDelete(MemoryContext context)
{
	MemoryContextReset(context);
	if (context != TopMemoryContext)
		free(context);
}

/* ------------------------------------------------------------ errors */

static int	err_level;
static char err_msg[1024];

bool
errstart(int elevel, const char *domain)
{
	err_level = elevel;
	err_msg[0] = '\0';
	return elevel >= WARNING;	/* lower levels are not interesting here */
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

int
errcode(int sqlerrcode)
{
	return 0;
}

int
errmsg(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	va_end(ap);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	return 0;
}

int
errhint(const char *fmt,...)
{
	return 0;
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	if (err_level >= ERROR)
	{
		fprintf(stderr, "shim: ereport(ERROR) reached at %s:%d (%s): %s\n",
				filename, lineno, funcname, err_msg);
		abort();
	}
}

void
elog_start(const char *filename, int lineno, const char *funcname)
{
}

/* ------------------------------------------------------------ time */

static TimestampTz fake_now = INT64CONST(849000000000000);	/* 2026-11-26 */

TimestampTz
GetCurrentTimestamp(void)
{
	return fake_now;
}

void
shim_advance_clock(int64 usecs)
{
	fake_now += usecs;
}

void
TimestampDifference(TimestampTz start_time, TimestampTz stop_time,
					long *secs, int *microsecs)
{
	TimestampTz diff = stop_time - start_time;

	if (diff <= 0)
	{
		*secs = 0;
		*microsecs = 0;
	}
	else
	{
		*secs = (long) (diff / USECS_PER_SEC);
		*microsecs = (int) (diff % USECS_PER_SEC);
	}
}

const char *
timestamptz_to_str(TimestampTz t)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%lld", (long long) t);
	return buf;
}

/* ------------------------------------------------------------ interrupts, latches, locks */

volatile sig_atomic_t InterruptPending = false;
volatile sig_atomic_t QueryCancelPending = false;
volatile sig_atomic_t ProcDiePending = false;
volatile sig_atomic_t ProcSignalBarrierPending = false;
volatile sig_atomic_t ConfigReloadPending = false;
volatile sig_atomic_t ShutdownRequestPending = false;
struct Latch *MyLatch = NULL;

long		shim_slept_ms = 0;

void
ProcessInterrupts(void)
{
}

int
WaitLatch(Latch *latch, int wakeEvents, long timeout, uint32 wait_event_info)
{
	if (timeout < 0 || timeout > INT64CONST(10) * 86400 * 1000 * 1000)
	{
		fprintf(stderr, "shim: WaitLatch with an absurd timeout %ld ms\n", timeout);
		abort();
	}
	shim_slept_ms += timeout;
	fake_now += (TimestampTz) timeout * 1000;
	return WL_TIMEOUT;
}

void
ResetLatch(Latch *latch)
{
}

bool
LWLockAcquire(LWLock *lock, LWLockMode mode)
{
	return true;
}

void
LWLockRelease(LWLock *lock)
{
}

bool
IsTransactionState(void)
{
	return true;				/* auth.c's persist_token() then skips SPI */
}

/* ------------------------------------------------------------ SPI, fmgr */

uint64		SPI_processed = 0;
SPITupleTable *SPI_tuptable = NULL;
int			SPI_result = 0;

int
SPI_execute(const char *src, bool read_only, long tcount)
{
	SPI_processed = 0;
	SPI_tuptable = NULL;
	return SPI_OK_SELECT;
}

int
SPI_execute_with_args(const char *src, int nargs, Oid *argtypes,
					  Datum *Values, const char *Nulls,
					  bool read_only, long tcount)
{
	SPI_processed = 0;
	SPI_tuptable = NULL;
	return strncmp(src, "INSERT", 6) == 0 ? SPI_OK_INSERT : SPI_OK_SELECT;
}

char *
SPI_getvalue(HeapTuple tuple, TupleDesc tupdesc, int fnumber)
{
	return NULL;
}

const char *
SPI_result_code_string(int code)
{
	return "SPI_ERROR";
}

text *
cstring_to_text(const char *s)
{
	size_t		len = strlen(s);
	text	   *t = palloc(len + VARHDRSZ);

	SET_VARSIZE(t, len + VARHDRSZ);
	memcpy(VARDATA(t), s, len);
	return t;
}

/*
 * The only DirectFunctionCall3 users are numeric_in (the activity log's
 * cost and duration, printed with "%.1f") and timestamptz_in (settings):
 * check that the text is what the SQL input function would accept.
 */
Datum
numeric_in(PG_FUNCTION_ARGS)
{
	return (Datum) 0;
}

Datum
timestamptz_in(PG_FUNCTION_ARGS)
{
	return (Datum) 0;
}

Datum
DirectFunctionCall3Coll(PGFunction func, Oid collation, Datum arg1,
						Datum arg2, Datum arg3)
{
	if (func == numeric_in)
	{
		const char *s = DatumGetCString(arg1);
		const char *p = s;

		if (*p == '-')
			p++;
		if (!isdigit((unsigned char) *p))
		{
			fprintf(stderr, "shim: numeric_in would reject \"%s\"\n", s);
			abort();
		}
		while (isdigit((unsigned char) *p) || *p == '.')
			p++;
		if (*p != '\0')
		{
			fprintf(stderr, "shim: numeric_in would reject \"%s\"\n", s);
			abort();
		}
	}
	return (Datum) 0;
}

/* ------------------------------------------------------------ the extension's other files */

KcsSharedState *kcs_shared = NULL;
bool		kcs_dry_run = false;
int			kcs_request_timeout_ms = 3000;
int			kcs_connect_timeout_ms = 2000;
int			kcs_max_response_kb = 64;
int			kcs_idle_interval_ms = 10000;
int			kcs_max_backoff_s = 300;

void
kcs_xact_begin(void)
{
}

void
kcs_xact_commit(void)
{
}

/* ------------------------------------------------------------ lists (pg_list.h) */

List *
lappend(List *list, void *datum)
{
	if (list == NIL)
	{
		list = palloc(offsetof(List, initial_elements) + 4 * sizeof(ListCell));
		list->type = T_List;
		list->length = 0;
		list->max_length = 4;
		list->elements = list->initial_elements;
	}
	else if (list->length == list->max_length)
	{
		ListCell   *n = palloc(sizeof(ListCell) * list->max_length * 2);

		memcpy(n, list->elements, sizeof(ListCell) * list->length);
		if (list->elements != list->initial_elements)
			pfree(list->elements);
		list->elements = n;
		list->max_length *= 2;
	}
	list->elements[list->length++].ptr_value = datum;
	return list;
}

void
list_free(List *list)
{
	if (list == NIL)
		return;
	if (list->elements != list->initial_elements)
		pfree(list->elements);
	pfree(list);
}
