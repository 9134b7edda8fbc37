/*-------------------------------------------------------------------------
 *
 * entities.h
 *	  Reading CI state for the entity sync (ci_read.c), shared by the
 *	  sync_*.c files and preview.c.
 *
 * The readers run SPI queries (the caller has SPI connected, inside a
 * transaction) and build their results in the memory context given, so
 * they outlive SPI_finish and the transaction.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KCS_ENTITIES_H
#define KCS_ENTITIES_H

#include "postgres.h"

#include "graphql.h"

/* What inventory sync does with one (SKU, branch). */
typedef enum KcsLevelAction
{
	KCS_LEVEL_SKIP,				/* nothing to send: ack */
	KCS_LEVEL_WAIT,				/* variant or location not linked yet */
	KCS_LEVEL_SEND				/* compare and set on_hand */
} KcsLevelAction;

typedef struct KcsLevelState
{
	KcsLevelAction action;
	const char *why;			/* for SKIP / WAIT */
	bool		negative;		/* CI stock below 0, sent as 0 */
	int			ci_on_hand;
	bool		activate_ok;	/* may stock the item at the location */
	char	   *sent_key;		/* stored key ... */
	int			sent_quantity;	/* ... for this quantity */
	bool		has_sent;
	KcsLevel	level;
} KcsLevelState;

extern Datum kcs_text_array(char **vals, int n);

/* CI text as UTF-8 for a request (converted, invalid bytes replaced) */
extern char *kcs_ci_text(char *v);

/* styles in the order of codes; every code gets a KcsStyle */
extern KcsStyle **kcs_read_styles(char **codes, int n, MemoryContext cxt);
extern KcsLevelState *kcs_read_levels(char **skus, char **branches, int n,
									  MemoryContext cxt);
extern KcsCustomer **kcs_read_customers(char **codes, int n, MemoryContext cxt);

/* sync_product.c: should this style be sent at all? (NULL = yes) */
extern const char *kcs_product_skip_reason(KcsStyle *st);
/* sync_customer.c */
extern const char *kcs_customer_skip_reason(KcsCustomer *c);

#endif							/* KCS_ENTITIES_H */
