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

void
kcs_xact_begin(void)
{
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
	/* report stats after each commit: a long-lived worker would hide them */
	pgstat_report_stat(false);
}
