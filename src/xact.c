/*-------------------------------------------------------------------------
 *
 * xact.c
 *	  Short transactions for the sync worker.
 *
 * The worker never holds a transaction (and so no snapshot, lock or xmin)
 * while it talks to Shopify: it reads CI and records results in short
 * transactions bracketed by these two calls.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "utils/snapmgr.h"

#include "sync.h"

/*
 * The caller's memory context: starting and committing a transaction
 * switch contexts (commit leaves TopMemoryContext current), so it is put
 * back at commit.  Inside the transaction CurrentMemoryContext is SPI's,
 * freed at commit: copy results out with MemoryContextStrdup(ctx, ...).
 */
static MemoryContext caller_cxt = NULL;

void
kcs_xact_begin(void)
{
	caller_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: SPI_connect failed")));
	PushActiveSnapshot(GetTransactionSnapshot());
}

void
kcs_xact_commit(void)
{
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	if (caller_cxt != NULL)
		MemoryContextSwitchTo(caller_cxt);
	caller_cxt = NULL;
	/* report stats after each commit: a long-lived worker would hide them */
	pgstat_report_stat(false);
}
