/*-------------------------------------------------------------------------
 *
 * sync_stub.c
 *	  Placeholders for the entity code (products, inventory, customers)
 *	  until it is merged: every item waits (KCS_WAIT, retried soon, not
 *	  counted as a failure).  Weak, so the real definitions win; delete this
 *	  file when sync_product.c, sync_inventory.c and sync_customer.c land.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "sync.h"

static void
wait_all(KcsItem *items, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		items[i].outcome = KCS_WAIT;
		items[i].error = NULL;
		items[i].retry_after = 30;
	}
}

void		__attribute__((weak))
kcs_sync_products(KcsItem *items, int n)
{
	wait_all(items, n);
}

void		__attribute__((weak))
kcs_sync_inventory(KcsItem *items, int n)
{
	wait_all(items, n);
}

void		__attribute__((weak))
kcs_sync_customers(KcsItem *items, int n)
{
	wait_all(items, n);
}
