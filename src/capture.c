/*-------------------------------------------------------------------------
 *
 * capture.c
 *	  Change capture: statement-level AFTER triggers on the Counter
 *	  Intelligence tables that mark entities dirty in kcloud_shopify.queue.
 *
 * The queue records *which* entity changed, never what changed (state, not
 * events).  Every captured table carries one trigger per event
 * (INSERT / UPDATE / DELETE: PostgreSQL allows transition tables only on
 * single-event triggers), all calling kcloud_shopify_capture() with the
 * name of a capture rule as their only argument.  A rule says which entity
 * kind the table feeds, which of its columns form the entity key, which
 * columns matter on UPDATE, and how the key reaches the queue:
 *
 *	direct		the row's own key columns are the entity key;
 *	web_stock	inventory: only when the row's branch has web_stock;
 *	fanout		the row's key selects rows of another CI table whose keys
 *				are enqueued (a renamed brand dirties every style of it).
 *
 * Two paths do the same thing:
 *
 *	- row path (at most KCS_ROW_PATH_MAX rows, e.g. the POS sale that
 *	  updates one ci.stock row): the transition tuplestores are read here,
 *	  the i-th OLD and the i-th NEW tuple of an UPDATE are compared column by
 *	  column with the type's equality (IS DISTINCT FROM semantics), and one
 *	  kept plan "INSERT ... VALUES ($1, $2) ON CONFLICT DO NOTHING" runs per
 *	  dirty key: no parse, no plan, no join per statement;
 *	- set path (bulk statements): one kept INSERT ... SELECT DISTINCT ...
 *	  ON CONFLICT DO NOTHING over the transition tables, registered with
 *	  SPI_register_trigger_data.  Old and new rows are paired by primary key
 *	  (a FULL JOIN), which finds exactly the same dirty keys as the row path:
 *	  the primary key is part of the compared columns, so a row whose key
 *	  changed shows up on both sides.  Its plan is kept per size class of the
 *	  transition table, because the planner's row estimate for a transition
 *	  table is fixed when the statement is parsed.
 *
 * An entity that is already pending costs one index probe and no write.
 * That alone would lose changes: a transaction T whose capture found the
 * entity pending may commit only after the worker claimed that row and read
 * the CI rows, so the send misses T's change and nothing is left queued.
 * Hence the capture fence: every capturing transaction holds a
 * transaction-level lock (ShareLock on a private advisory tag, so POS
 * transactions never conflict with each other, and never wait on it), and
 * the worker, after committing a claim and before reading CI rows, waits
 * for the transactions holding it at that moment (kcs_capture_wait(),
 * WaitForLockers: like CREATE INDEX CONCURRENTLY, new lockers are not
 * blocked).  Any transaction that saw the entity pending before the claim
 * has then ended, and its change is in the worker's snapshot; a capture
 * after the claim finds no pending row and queues a new one.
 * The worker is woken at commit (kcs_request_wake) only when a queue row was
 * actually inserted: a conflicting pending row has committed already, and
 * its own commit woke the worker.
 *
 * The capture function is SECURITY DEFINER: a POS role needs no privilege on
 * kcloud_shopify.  Every name in the generated SQL is therefore schema
 * qualified, including the operators (OPERATOR(pg_catalog.=)), so nothing
 * in the caller's search_path can run with the owner's rights.
 *
 * Caches (rules resolved to attribute numbers, equality functions, kept
 * plans) live per backend in CacheMemoryContext, keyed by (relation OID,
 * rule), and are rebuilt after a relcache invalidation of the relation
 * (ALTER TABLE, a trigger added or dropped, DROP/CREATE EXTENSION).  Plans
 * referencing kcloud_shopify.queue or ci.* are revalidated by the plan cache.
 *
 * TRUNCATE is refused (kcloud_shopify_capture_truncate, a BEFORE TRUNCATE
 * trigger): TRUNCATE reports no rows, so the removed entities cannot be
 * named, and marking "everything" would hide the real problem — a CI table
 * emptied behind the sync's back.  docs/capture.md explains the choice.
 *
 * session_replication_role = replica disables capture: the triggers are
 * ordinary (ENABLE ORIGIN) triggers, which PostgreSQL does not fire then.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/tupdesc.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
#include "utils/typcache.h"

#include "kcloud_shopify.h"

PG_FUNCTION_INFO_V1(kcloud_shopify_capture);
PG_FUNCTION_INFO_V1(kcloud_shopify_capture_truncate);
PG_FUNCTION_INFO_V1(kcloud_shopify_bind_members);
PG_FUNCTION_INFO_V1(kcloud_shopify_capture_wait);

/*
 * Statements touching at most this many rows take the row path.  Each row
 * costs one executor run of a tiny INSERT; above this the single set-wise
 * statement (a hash join over the transition tables) is cheaper.
 */
#define KCS_ROW_PATH_MAX	8

#define KCS_MAX_COLS		16
#define KCS_MAX_KEYS		2
#define KCS_MAX_PKEY		3

/* size classes of the set path's kept plans: <=100, <=10k, <=1M, more */
#define KCS_SIZE_CLASSES	4

/* transition table names used by the triggers in sql/install/15_capture.sql */
#define KCS_OLD_TABLE		"kcs_old"
#define KCS_NEW_TABLE		"kcs_new"

#define KCS_QUEUE_INSERT \
	"INSERT INTO kcloud_shopify.queue AS q (kind, key1, key2) "
#define KCS_ON_CONFLICT \
	" ON CONFLICT (kind, key1, key2) WHERE state OPERATOR(pg_catalog.=) 'pending'" \
	" DO NOTHING"

typedef enum KcsTarget
{
	KCS_TARGET_DIRECT,			/* the row's key columns are the entity key */
	KCS_TARGET_WEB_STOCK,		/* (sku, branch) only if branch.web_stock */
	KCS_TARGET_FANOUT			/* rows of another table matching the key */
} KcsTarget;

typedef struct KcsRule
{
	const char *name;			/* trigger argument */
	const char *table;			/* ci table the rule belongs to */
	const char *kind;			/* queue kind */
	KcsTarget	target;
	const char *keys[KCS_MAX_KEYS + 1]; /* key columns of this table */
	const char *pkey[KCS_MAX_PKEY + 1]; /* primary key: pairs OLD and NEW */
	const char *cared[KCS_MAX_COLS + 1];	/* compared on UPDATE; includes
											 * keys and pkey */
	/* KCS_TARGET_FANOUT only */
	const char *fanout_table;	/* schema-qualified */
	const char *fanout_match;	/* its column equal to keys[0] */
	const char *fanout_keys[KCS_MAX_KEYS + 1];	/* its columns: key1, key2 */
	/* many rows map to one key: insert in key order (see docs/capture.md) */
	bool		sorted;
} KcsRule;

/*
 * The capture rules.  The column lists are the synced columns of
 * docs/capture.md; a column not listed here (ci.customer.created_at,
 * ci.stock_group.parent_code) never dirties anything.
 */
static const KcsRule kcs_rules[] = {
	{"style", "style", "product", KCS_TARGET_DIRECT,
		{"style_code"}, {"style_code"},
		{"style_code", "description", "long_description", "stock_group_code",
		 "brand_code", "retail_price", "sale_price", "sale_from", "sale_to",
		"internet_active"},
	NULL, NULL, {NULL}, false},
	{"style_info_tab", "style_info_tab", "product", KCS_TARGET_DIRECT,
		{"style_code"}, {"style_code", "tab_no"},
		{"style_code", "tab_no", "heading", "body"},
	NULL, NULL, {NULL}, true},
	{"style_attribute", "style_attribute", "product", KCS_TARGET_DIRECT,
		{"style_code"}, {"style_code", "name"},
		{"style_code", "name", "value"},
	NULL, NULL, {NULL}, true},
	{"sku", "sku", "product", KCS_TARGET_DIRECT,
		{"style_code"}, {"sku_code"},
		{"sku_code", "style_code", "colour", "size", "barcode", "retail_price",
		"sale_price", "sort_order"},
	NULL, NULL, {NULL}, true},
	{"stock", "stock", "inventory", KCS_TARGET_WEB_STOCK,
		{"sku_code", "branch_code"}, {"sku_code", "branch_code"},
		{"sku_code", "branch_code", "on_hand"},
	NULL, NULL, {NULL}, false},
	{"branch", "branch", "location", KCS_TARGET_DIRECT,
		{"branch_code"}, {"branch_code"},
		{"branch_code", "name", "address1", "address2", "city", "region",
		"postcode", "country_code", "phone", "active", "web_stock"},
	NULL, NULL, {NULL}, false},
	/* web_stock on or off: every stock level of the branch must be sent */
	{"branch_web_stock", "branch", "inventory", KCS_TARGET_FANOUT,
		{"branch_code"}, {"branch_code"},
		{"branch_code", "web_stock"},
	"ci.stock", "branch_code", {"sku_code", "branch_code"}, true},
	{"customer", "customer", "customer", KCS_TARGET_DIRECT,
		{"customer_code"}, {"customer_code"},
		{"customer_code", "first_name", "last_name", "email", "phone",
			"address1", "address2", "city", "region", "postcode", "country_code",
		"accepts_marketing"},
	NULL, NULL, {NULL}, false},
	{"brand", "brand", "product", KCS_TARGET_FANOUT,
		{"brand_code"}, {"brand_code"},
		{"brand_code", "name"},
	"ci.style", "brand_code", {"style_code"}, true},
	{"stock_group", "stock_group", "product", KCS_TARGET_FANOUT,
		{"stock_group_code"}, {"stock_group_code"},
		{"stock_group_code", "description"},
	"ci.style", "stock_group_code", {"style_code"}, true},
};

#define KCS_NRULES	((int) lengthof(kcs_rules))

typedef enum KcsEvent
{
	KCS_EV_INSERT = 0,
	KCS_EV_UPDATE,
	KCS_EV_DELETE,
	KCS_NEVENTS
} KcsEvent;

/* one column of the trigger relation, resolved */
typedef struct KcsColumn
{
	AttrNumber	attnum;
	bool		is_text;		/* text or varchar: the datum is a text */
	FmgrInfo	out;			/* otherwise: its output function */
	bool		has_eq;			/* has a default equality operator */
	FmgrInfo	eq;
	Oid			collation;
	int16		typlen;
	bool		typbyval;
} KcsColumn;

typedef struct KcsCacheKey
{
	Oid			relid;
	int			rule;
} KcsCacheKey;

typedef struct KcsCacheEntry
{
	KcsCacheKey key;			/* hash key: must be first */
	bool		valid;
	int			nkeys;
	KcsColumn	keys[KCS_MAX_KEYS];
	int			ncared;
	KcsColumn	cared[KCS_MAX_COLS];
	SPIPlanPtr	row_plan;
	SPIPlanPtr	set_plans[KCS_NEVENTS][KCS_SIZE_CLASSES];
} KcsCacheEntry;

/*
 * The capture fence: an advisory lock tag no SQL-level advisory lock
 * function can produce (those use field4 = 1 or 2).
 */
#define KCS_FENCE_KEY		0x4B43534C	/* "KCSL" */
#define KCS_FENCE_FIELD4	3

static HTAB *kcs_cache = NULL;
static MemoryContext kcs_cache_cxt = NULL;

/*
 * Relcache invalidation: only mark entries stale.  Plans are freed when the
 * entry is next used, never from inside the callback, which can run in the
 * middle of planning or execution.
 */
static void
kcs_relcache_callback(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	KcsCacheEntry *entry;

	if (kcs_cache == NULL)
		return;
	hash_seq_init(&status, kcs_cache);
	while ((entry = (KcsCacheEntry *) hash_seq_search(&status)) != NULL)
	{
		if (relid == InvalidOid || entry->key.relid == relid)
			entry->valid = false;
	}
}

static void
kcs_cache_init(void)
{
	HASHCTL		ctl;

	kcs_cache_cxt = AllocSetContextCreate(CacheMemoryContext,
										  "kcloud_shopify capture cache",
										  ALLOCSET_SMALL_SIZES);
	ctl.keysize = sizeof(KcsCacheKey);
	ctl.entrysize = sizeof(KcsCacheEntry);
	ctl.hcxt = kcs_cache_cxt;
	kcs_cache = hash_create("kcloud_shopify capture cache", 32, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterRelcacheCallback(kcs_relcache_callback, (Datum) 0);
}

static const KcsRule *
kcs_find_rule(const char *name, int *index)
{
	int			i;

	for (i = 0; i < KCS_NRULES; i++)
	{
		if (strcmp(kcs_rules[i].name, name) == 0)
		{
			*index = i;
			return &kcs_rules[i];
		}
	}
	return NULL;
}

/* Resolve a column of the trigger relation by name. */
static void
kcs_resolve_column(Relation rel, const KcsRule *rule, const char *colname,
				   bool need_text, KcsColumn *col)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		TypeCacheEntry *tce;

		if (att->attisdropped || strcmp(NameStr(att->attname), colname) != 0)
			continue;

		memset(col, 0, sizeof(KcsColumn));
		col->attnum = att->attnum;
		col->collation = att->attcollation;
		col->typlen = att->attlen;
		col->typbyval = att->attbyval;
		col->is_text = (att->atttypid == TEXTOID || att->atttypid == VARCHAROID);
		if (need_text && !col->is_text)
		{
			Oid			outfunc;
			bool		isvarlena;

			getTypeOutputInfo(att->atttypid, &outfunc, &isvarlena);
			fmgr_info_cxt(outfunc, &col->out, kcs_cache_cxt);
		}
		tce = lookup_type_cache(att->atttypid, TYPECACHE_EQ_OPR);
		if (OidIsValid(tce->eq_opr))
		{
			col->has_eq = true;
			fmgr_info_cxt(get_opcode(tce->eq_opr), &col->eq, kcs_cache_cxt);
		}
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column \"%s\" of table \"%s\" does not exist",
					colname, RelationGetRelationName(rel)),
			 errdetail("kcloud_shopify capture rule \"%s\" needs it.", rule->name),
			 errhint("The table does not match the Counter Intelligence 11.514 contract.")));
}

/* the queue key expressions of the rule's row plan ($1, $2 or '') */
static void
kcs_append_row_plan(StringInfo sql, const KcsRule *rule, int nkeys)
{
	appendStringInfoString(sql, KCS_QUEUE_INSERT);
	switch (rule->target)
	{
		case KCS_TARGET_DIRECT:
			appendStringInfo(sql, "VALUES ('%s', $1, %s)", rule->kind,
							 nkeys > 1 ? "$2" : "''");
			break;
		case KCS_TARGET_WEB_STOCK:
			appendStringInfo(sql,
							 "SELECT '%s', $1, b.branch_code::pg_catalog.text"
							 " FROM ci.branch b"
							 " WHERE b.branch_code OPERATOR(pg_catalog.=) $2"
							 " AND b.web_stock",
							 rule->kind);
			break;
		case KCS_TARGET_FANOUT:
			appendStringInfo(sql,
							 "SELECT DISTINCT '%s', f.%s::pg_catalog.text, %s%s"
							 " FROM %s f"
							 " WHERE f.%s OPERATOR(pg_catalog.=) $1"
							 " ORDER BY 2, 3",
							 rule->kind, rule->fanout_keys[0],
							 rule->fanout_keys[1] ? "f." : "",
							 rule->fanout_keys[1] ? rule->fanout_keys[1] : "''::pg_catalog.text",
							 rule->fanout_table, rule->fanout_match);
			break;
	}
	appendStringInfoString(sql, KCS_ON_CONFLICT);
}

/* "not distinct" test of one column of o and n, in SQL */
static void
kcs_append_not_distinct(StringInfo sql, const char *col)
{
	appendStringInfo(sql,
					 "((o.%s IS NULL AND n.%s IS NULL)"
					 " OR (o.%s OPERATOR(pg_catalog.=) n.%s) IS TRUE)",
					 col, col, col, col);
}

/*
 * The set path's SQL for one event: the dirty keys of the transition tables
 * as (key1, key2), then the rule's target.
 */
static char *
kcs_build_set_sql(const KcsRule *rule, KcsEvent ev)
{
	StringInfoData src;
	StringInfoData sql;
	const char *k2 = rule->keys[1];
	int			i;

	initStringInfo(&src);
	if (ev == KCS_EV_UPDATE)
	{
		/* both sides of every pair that differs in a cared column */
		appendStringInfoString(&src, "SELECT v.key1, v.key2 FROM " KCS_OLD_TABLE
							   " o FULL JOIN " KCS_NEW_TABLE " n ON ");
		for (i = 0; rule->pkey[i] != NULL; i++)
			appendStringInfo(&src, "%so.%s OPERATOR(pg_catalog.=) n.%s",
							 i > 0 ? " AND " : "", rule->pkey[i], rule->pkey[i]);
		appendStringInfo(&src,
						 " CROSS JOIN LATERAL (VALUES"
						 " (o.%s::pg_catalog.text, %s%s::pg_catalog.text),"
						 " (n.%s::pg_catalog.text, %s%s::pg_catalog.text))"
						 " v(key1, key2)"
						 " WHERE v.key1 IS NOT NULL AND NOT (",
						 rule->keys[0], k2 ? "o." : "", k2 ? k2 : "''",
						 rule->keys[0], k2 ? "n." : "", k2 ? k2 : "''");
		for (i = 0; rule->cared[i] != NULL; i++)
		{
			if (i > 0)
				appendStringInfoString(&src, " AND ");
			kcs_append_not_distinct(&src, rule->cared[i]);
		}
		appendStringInfoChar(&src, ')');
	}
	else
		appendStringInfo(&src,
						 "SELECT t.%s::pg_catalog.text AS key1,"
						 " %s%s::pg_catalog.text AS key2"
						 " FROM %s t WHERE t.%s IS NOT NULL",
						 rule->keys[0], k2 ? "t." : "", k2 ? k2 : "''",
						 ev == KCS_EV_INSERT ? KCS_NEW_TABLE : KCS_OLD_TABLE,
						 rule->keys[0]);

	initStringInfo(&sql);
	appendStringInfoString(&sql, KCS_QUEUE_INSERT);
	switch (rule->target)
	{
		case KCS_TARGET_DIRECT:
			appendStringInfo(&sql, "SELECT DISTINCT '%s', s.key1, s.key2 FROM (%s) s",
							 rule->kind, src.data);
			break;
		case KCS_TARGET_WEB_STOCK:
			appendStringInfo(&sql,
							 "SELECT DISTINCT '%s', s.key1, s.key2 FROM (%s) s"
							 " JOIN ci.branch b"
							 " ON b.branch_code OPERATOR(pg_catalog.=) s.key2"
							 " WHERE b.web_stock",
							 rule->kind, src.data);
			break;
		case KCS_TARGET_FANOUT:
			appendStringInfo(&sql,
							 "SELECT DISTINCT '%s', f.%s::pg_catalog.text, %s%s::pg_catalog.text"
							 " FROM %s f WHERE EXISTS (SELECT 1 FROM (%s) s"
							 " WHERE s.key1 OPERATOR(pg_catalog.=) f.%s)",
							 rule->kind, rule->fanout_keys[0],
							 rule->fanout_keys[1] ? "f." : "",
							 rule->fanout_keys[1] ? rule->fanout_keys[1] : "''",
							 rule->fanout_table, src.data, rule->fanout_match);
			break;
	}
	if (rule->sorted)
		appendStringInfoString(&sql, " ORDER BY 2, 3");
	appendStringInfoString(&sql, KCS_ON_CONFLICT);
	pfree(src.data);
	return sql.data;
}

static SPIPlanPtr
kcs_prepare_kept(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan;

	plan = SPI_prepare(sql, nargs, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s",
			 sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

static void
kcs_free_plans(KcsCacheEntry *entry)
{
	int			e,
				c;

	if (entry->row_plan)
		SPI_freeplan(entry->row_plan);
	entry->row_plan = NULL;
	for (e = 0; e < KCS_NEVENTS; e++)
		for (c = 0; c < KCS_SIZE_CLASSES; c++)
		{
			if (entry->set_plans[e][c])
				SPI_freeplan(entry->set_plans[e][c]);
			entry->set_plans[e][c] = NULL;
		}
}

/*
 * The cache entry of (relation, rule), (re)built if stale.  SPI must be
 * connected.
 */
static KcsCacheEntry *
kcs_get_entry(Relation rel, const KcsRule *rule, int ruleno)
{
	KcsCacheKey key;
	KcsCacheEntry *entry;
	bool		found;
	int			i;
	StringInfoData sql;
	Oid			argtypes[KCS_MAX_KEYS] = {TEXTOID, TEXTOID};

	if (kcs_cache == NULL)
		kcs_cache_init();

	memset(&key, 0, sizeof(key));
	key.relid = RelationGetRelid(rel);
	key.rule = ruleno;
	entry = (KcsCacheEntry *) hash_search(kcs_cache, &key, HASH_ENTER, &found);
	if (!found)
	{
		/* nothing below may fail before the entry is consistent */
		memset(((char *) entry) + sizeof(KcsCacheKey), 0,
			   sizeof(KcsCacheEntry) - sizeof(KcsCacheKey));
	}
	if (entry->valid)
		return entry;

	kcs_free_plans(entry);

	if (strcmp(RelationGetRelationName(rel), rule->table) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("kcloud_shopify capture rule \"%s\" belongs to table ci.%s, not to table \"%s\"",
						rule->name, rule->table, RelationGetRelationName(rel))));

	for (i = 0; rule->keys[i] != NULL; i++)
		kcs_resolve_column(rel, rule, rule->keys[i], true, &entry->keys[i]);
	entry->nkeys = i;
	for (i = 0; rule->cared[i] != NULL; i++)
		kcs_resolve_column(rel, rule, rule->cared[i], false, &entry->cared[i]);
	entry->ncared = i;
	for (i = 0; rule->pkey[i] != NULL; i++)
	{
		KcsColumn	dummy;

		/* fail now, not in the middle of a bulk statement */
		kcs_resolve_column(rel, rule, rule->pkey[i], false, &dummy);
	}

	initStringInfo(&sql);
	kcs_append_row_plan(&sql, rule, entry->nkeys);
	entry->row_plan = kcs_prepare_kept(sql.data,
									   rule->target == KCS_TARGET_FANOUT ? 1 : entry->nkeys,
									   argtypes);
	pfree(sql.data);

	entry->valid = true;
	return entry;
}

/* Did any cared column change between the two versions of a row? */
static bool
kcs_row_changed(KcsCacheEntry *entry, TupleTableSlot *o, TupleTableSlot *n)
{
	int			i;

	for (i = 0; i < entry->ncared; i++)
	{
		KcsColumn  *col = &entry->cared[i];
		bool		onull,
					nnull;
		Datum		od = slot_getattr(o, col->attnum, &onull);
		Datum		nd = slot_getattr(n, col->attnum, &nnull);

		if (onull != nnull)
			return true;
		if (onull)
			continue;
		if (datumIsEqual(od, nd, col->typbyval, col->typlen))
			continue;
		if (!col->has_eq ||
			!DatumGetBool(FunctionCall2Coll(&col->eq, col->collation, od, nd)))
			return true;
	}
	return false;
}

/* Do two versions of a row have the same entity key? */
static bool
kcs_same_key(KcsCacheEntry *entry, TupleTableSlot *o, TupleTableSlot *n)
{
	int			i;

	for (i = 0; i < entry->nkeys; i++)
	{
		KcsColumn  *col = &entry->keys[i];
		bool		onull,
					nnull;
		Datum		od = slot_getattr(o, col->attnum, &onull);
		Datum		nd = slot_getattr(n, col->attnum, &nnull);

		if (onull != nnull)
			return false;
		if (onull)
			continue;
		if (datumIsEqual(od, nd, col->typbyval, col->typlen))
			continue;
		if (!col->has_eq ||
			!DatumGetBool(FunctionCall2Coll(&col->eq, col->collation, od, nd)))
			return false;
	}
	return true;
}

/* Enqueue the key of one row through the kept row plan. */
static void
kcs_enqueue_row(KcsCacheEntry *entry, TupleTableSlot *slot)
{
	Datum		values[KCS_MAX_KEYS];
	char		nulls[KCS_MAX_KEYS] = {' ', ' '};
	int			i;
	int			rc;

	for (i = 0; i < entry->nkeys; i++)
	{
		KcsColumn  *col = &entry->keys[i];
		bool		isnull;
		Datum		d = slot_getattr(slot, col->attnum, &isnull);

		/* the contract's keys are NOT NULL; a NULL key names nothing */
		if (isnull)
			return;
		if (col->is_text)
			values[i] = d;
		else
			values[i] = PointerGetDatum(cstring_to_text(OutputFunctionCall(&col->out, d)));
	}

	rc = SPI_execute_plan(entry->row_plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "kcloud_shopify capture: queue insert failed: %s",
			 SPI_result_code_string(rc));
	if (SPI_processed > 0)
		kcs_request_wake();
}

/* Position a private read pointer at the start of a transition table. */
static void
kcs_ts_rewind(Tuplestorestate *ts)
{
	int			ptr = tuplestore_alloc_read_pointer(ts, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(ts, ptr);
	tuplestore_rescan(ts);
}

static void
kcs_row_path(TriggerData *trigdata, KcsCacheEntry *entry, KcsEvent ev)
{
	TupleDesc	tupdesc = RelationGetDescr(trigdata->tg_relation);
	TupleTableSlot *oslot = NULL;
	TupleTableSlot *nslot = NULL;

	if (ev != KCS_EV_INSERT)
	{
		oslot = MakeSingleTupleTableSlot(tupdesc, &TTSOpsMinimalTuple);
		kcs_ts_rewind(trigdata->tg_oldtable);
	}
	if (ev != KCS_EV_DELETE)
	{
		nslot = MakeSingleTupleTableSlot(tupdesc, &TTSOpsMinimalTuple);
		kcs_ts_rewind(trigdata->tg_newtable);
	}

	if (ev == KCS_EV_INSERT)
	{
		while (tuplestore_gettupleslot(trigdata->tg_newtable, true, false, nslot))
			kcs_enqueue_row(entry, nslot);
	}
	else if (ev == KCS_EV_DELETE)
	{
		while (tuplestore_gettupleslot(trigdata->tg_oldtable, true, false, oslot))
			kcs_enqueue_row(entry, oslot);
	}
	else
	{
		/*
		 * Each tuplestore has its own active read pointer, so reading the two
		 * in lockstep is safe.  The i-th OLD and the i-th NEW tuple are the
		 * two versions of one row.
		 */
		for (;;)
		{
			bool		have_old = tuplestore_gettupleslot(trigdata->tg_oldtable,
														   true, false, oslot);
			bool		have_new = tuplestore_gettupleslot(trigdata->tg_newtable,
														   true, false, nslot);

			if (!have_old || !have_new)
			{
				if (have_old != have_new)
					elog(ERROR, "kcloud_shopify capture: transition tables of an UPDATE differ in length");
				break;
			}
			if (!kcs_row_changed(entry, oslot, nslot))
				continue;
			kcs_enqueue_row(entry, nslot);
			if (!kcs_same_key(entry, oslot, nslot))
				kcs_enqueue_row(entry, oslot);
		}
	}

	if (oslot)
		ExecDropSingleTupleTableSlot(oslot);
	if (nslot)
		ExecDropSingleTupleTableSlot(nslot);
}

static int
kcs_size_class(int64 rows)
{
	if (rows <= 100)
		return 0;
	if (rows <= 10000)
		return 1;
	if (rows <= 1000000)
		return 2;
	return 3;
}

static void
kcs_set_path(TriggerData *trigdata, const KcsRule *rule, KcsCacheEntry *entry,
			 KcsEvent ev, int64 rows)
{
	int			rc;
	int			sc = kcs_size_class(rows);
	SPIPlanPtr	plan;

	rc = SPI_register_trigger_data(trigdata);
	if (rc != SPI_OK_TD_REGISTER)
		elog(ERROR, "SPI_register_trigger_data failed: %s",
			 SPI_result_code_string(rc));

	plan = entry->set_plans[ev][sc];
	if (plan == NULL)
	{
		char	   *sql = kcs_build_set_sql(rule, ev);

		plan = kcs_prepare_kept(sql, 0, NULL);
		entry->set_plans[ev][sc] = plan;
		pfree(sql);
	}

	rc = SPI_execute_plan(plan, NULL, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "kcloud_shopify capture: set-wise queue insert failed: %s",
			 SPI_result_code_string(rc));
	if (SPI_processed > 0)
		kcs_request_wake();
}

static void
kcs_fence_tag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, KCS_FENCE_KEY, 0, KCS_FENCE_FIELD4);
}

/*
 * Wait until every transaction that was capturing changes when this is
 * called has ended.  The worker calls it after committing a claim and
 * before reading the CI rows of the claimed entities (see the top of this
 * file).  It must not run in the claiming transaction (a capture may be
 * waiting for that one: deadlock), nor under a transaction snapshot that
 * the later reads would reuse.
 */
void
kcs_capture_wait(void)
{
	LOCKTAG		fence;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("kcloud_shopify capture wait must run in a READ COMMITTED transaction"),
				 errhint("A transaction snapshot taken before the wait would not see the changes waited for.")));
	if (TransactionIdIsValid(GetTopTransactionIdIfAny()))
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("kcloud_shopify capture wait must not run in a transaction that has written"),
				 errhint("Commit the claim first.")));
	kcs_fence_tag(&fence);
	WaitForLockers(fence, ExclusiveLock, false);
}

/* kcloud_shopify.capture_wait(): SQL entry point of kcs_capture_wait() */
Datum
kcloud_shopify_capture_wait(PG_FUNCTION_ARGS)
{
	kcs_capture_wait();
	PG_RETURN_VOID();
}

/*
 * kcloud_shopify.capture(rule): AFTER INSERT/UPDATE/DELETE ... FOR EACH
 * STATEMENT trigger with transition tables.
 */
Datum
kcloud_shopify_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *trigger;
	const KcsRule *rule;
	int			ruleno;
	KcsEvent	ev;
	KcsCacheEntry *entry;
	int64		rows;
	int			rc;
	LOCKTAG		fence;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("kcloud_shopify.capture() must be called as a trigger")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("kcloud_shopify.capture() must be an AFTER ... FOR EACH STATEMENT trigger")));

	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("kcloud_shopify.capture() takes exactly one argument, the capture rule")));
	rule = kcs_find_rule(trigger->tgargs[0], &ruleno);
	if (rule == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("unknown kcloud_shopify capture rule \"%s\"", trigger->tgargs[0])));

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ev = KCS_EV_INSERT;
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		ev = KCS_EV_UPDATE;
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		ev = KCS_EV_DELETE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("kcloud_shopify.capture() handles INSERT, UPDATE and DELETE only")));

	if ((ev != KCS_EV_INSERT && trigdata->tg_oldtable == NULL) ||
		(ev != KCS_EV_DELETE && trigdata->tg_newtable == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("kcloud_shopify capture trigger \"%s\" has no transition table",
						trigger->tgname),
				 errhint("Create it with REFERENCING OLD TABLE AS %s / NEW TABLE AS %s.",
						 KCS_OLD_TABLE, KCS_NEW_TABLE)));

	/* the set path's SQL refers to the transition tables by these names */
	if ((trigger->tgoldtable && strcmp(trigger->tgoldtable, KCS_OLD_TABLE) != 0) ||
		(trigger->tgnewtable && strcmp(trigger->tgnewtable, KCS_NEW_TABLE) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("kcloud_shopify capture trigger \"%s\" has wrongly named transition tables",
						trigger->tgname),
				 errhint("Create it with REFERENCING OLD TABLE AS %s / NEW TABLE AS %s.",
						 KCS_OLD_TABLE, KCS_NEW_TABLE)));

	rows = tuplestore_tuple_count(ev == KCS_EV_DELETE ? trigdata->tg_oldtable
								  : trigdata->tg_newtable);
	if (rows == 0)
		return PointerGetDatum(NULL);

	/*
	 * Hold the capture fence before looking at the queue, until the end of
	 * the transaction.  A repeat is a local lock-table hit.
	 */
	kcs_fence_tag(&fence);
	(void) LockAcquire(&fence, ShareLock, false, false);

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));

	entry = kcs_get_entry(trigdata->tg_relation, rule, ruleno);

	if (rows <= KCS_ROW_PATH_MAX)
		kcs_row_path(trigdata, entry, ev);
	else
		kcs_set_path(trigdata, rule, entry, ev, rows);

	if ((rc = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(rc));

	return PointerGetDatum(NULL);
}

/*
 * kcloud_shopify.capture_truncate(): BEFORE TRUNCATE trigger that refuses.
 * TRUNCATE names no rows, so capture cannot tell Shopify what went away.
 */
Datum
kcloud_shopify_capture_truncate(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("kcloud_shopify.capture_truncate() must be called as an ON TRUNCATE trigger")));

	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot truncate table \"%s.%s\" while kcloud_shopify captures it",
					get_namespace_name(RelationGetNamespace(trigdata->tg_relation)),
					RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("TRUNCATE does not say which rows it removes, so the change cannot be sent to Shopify."),
			 errhint("Use DELETE, which is captured. To reload Counter Intelligence data without capture, "
					 "set session_replication_role = replica and resynchronise afterwards.")));

	PG_RETURN_NULL();			/* keep compiler quiet */
}

/*
 * kcloud_shopify.bind_members(): make the capture triggers, and the schema
 * kcloud_shopify if this CREATE EXTENSION created it, members of the
 * extension.  Only the install script calls it, then drops it.
 *
 * A trigger created by an extension script is not an extension member: it
 * merely depends on the (member) trigger function, so DROP EXTENSION would
 * refuse to drop it without CASCADE, and pg_dump would dump it although
 * CREATE EXTENSION recreates it.  Likewise the schema that CREATE EXTENSION
 * creates from the control file's "schema" is not a member and would outlive
 * DROP EXTENSION.  A pre-existing schema of that name is left alone.
 */
Datum
kcloud_shopify_bind_members(PG_FUNCTION_ARGS)
{
	int			rc;
	uint64		i;
	int64		n = 0;
	Oid			nspid;
	HeapTuple	tup;

	if (!creating_extension)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("kcloud_shopify.bind_members() may only be called by CREATE EXTENSION")));

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute("SELECT t.oid FROM pg_catalog.pg_trigger t"
					 " WHERE t.tgfoid OPERATOR(pg_catalog.=) ANY (ARRAY["
					 "'kcloud_shopify.capture()'::pg_catalog.regprocedure,"
					 "'kcloud_shopify.capture_truncate()'::pg_catalog.regprocedure]::pg_catalog.oid[])",
					 true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	for (i = 0; i < SPI_processed; i++)
	{
		ObjectAddress trig;
		bool		isnull;

		trig.classId = TriggerRelationId;
		trig.objectId = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc,
													   1, &isnull));
		trig.objectSubId = 0;
		recordDependencyOnCurrentExtension(&trig, false);
		n++;
	}
	if ((rc = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(rc));

	nspid = get_namespace_oid(KCS_EXTNAME, false);
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data)) &&
		!OidIsValid(getExtensionOfObject(NamespaceRelationId, nspid)))
	{
		ObjectAddress nsp;

		nsp.classId = NamespaceRelationId;
		nsp.objectId = nspid;
		nsp.objectSubId = 0;
		recordDependencyOnCurrentExtension(&nsp, false);
		n++;
	}
	ReleaseSysCache(tup);

	PG_RETURN_INT64(n);
}
