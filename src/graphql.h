/*-------------------------------------------------------------------------
 *
 * graphql.h
 *	  GraphQL documents and payloads for the entity sync (products, stock,
 *	  customers): jansson helpers, GID helpers, userErrors parsing, and the
 *	  builders that turn CI state (the structs below) into the exact
 *	  document + variables sent to Shopify.  preview() uses the same
 *	  builders, so what it shows is what the worker sends.
 *
 * Everything JSON is jansson.  postgres exports a symbol json_object, which
 * clashes with jansson's json_object(): use kcs_json_obj() instead.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KCS_GRAPHQL_H
#define KCS_GRAPHQL_H

#include "postgres.h"

/*
 * postgres declares json_object() (utils/fmgrprotos.h); hide jansson's
 * declaration of the same name (we never call it: kcs_json_obj()).
 * Include this header before sync.h.
 */
#define json_object kcs_jansson_json_object_unused
#include <jansson.h>
#undef json_object

#include "lib/stringinfo.h"

/* Namespaces of the metafields we own (docs/entities.md). */
#define KCS_MF_NS			"kcloud"		/* ids and info tabs */
#define KCS_MF_ATTR_NS		"kcloud_attr"	/* one per CI style attribute */
#define KCS_MF_STYLE_KEY	"style_code"	/* product customId */
#define KCS_MF_TABS_KEY		"info_tabs"
#define KCS_MF_CUSTOMER_KEY "customer_code"

/*
 * Single-query cost limit is 1000; stay clear of it when combining, and of
 * the bucket's size (a request costing more than the bucket holds would be
 * throttled for ever): kcs_cost_budget().
 */
#define KCS_COST_BUDGET		900.0
extern double kcs_cost_budget(void);
/* At most this many aliased root fields in one document. */
#define KCS_MAX_ALIASES		25
/* inventorySetQuantities: at most this many quantities per call. */
#define KCS_INV_MAX			250
/* Variants fetched back from productSet in one page. */
#define KCS_MAX_VARIANTS	250
/* metafieldsSet / metafieldsDelete: at most this many per call ... */
#define KCS_MF_MAX			25
/* ... and the requested cost of one: 10 + userErrors 1 */
#define KCS_MF_CALL_COST	11

/* ---------------------------------------------------------------- json */
extern json_t *kcs_json_obj(void);
extern void kcs_json_set_str(json_t *obj, const char *key, const char *val);
extern void kcs_json_set_str_or_null(json_t *obj, const char *key, const char *val);
extern const char *kcs_json_str(json_t *obj, const char *key);
extern json_t *kcs_json_path(json_t *root, const char *a, const char *b, const char *c);
extern char *kcs_json_to_cstring(json_t *j);	/* palloc'd, compact, sorted */

/* ---------------------------------------------------------------- GIDs */
extern const char *kcs_gid_tail(const char *gid);	/* "123" of .../Type/123 */
extern char *kcs_gid_make(const char *type, const char *id);	/* passes GIDs */

/* --------------------------------------------------------- userErrors */
typedef struct KcsUserError
{
	char	   *code;			/* NULL when Shopify gave none */
	char	   *message;
	int			index;			/* first numeric path element after the list, or -1 */
} KcsUserError;

/*
 * Parse payload[listname] (e.g. "userErrors").  Returns the count; *out is
 * palloc'd.  index is the first numeric element of "field" (the position in
 * the input list the error is about), or -1.
 */
extern int	kcs_user_errors(json_t *payload, const char *listname, KcsUserError **out);
/* "CODE: message; CODE: message" (palloc'd) */
extern char *kcs_user_errors_text(KcsUserError *errs, int n);

/* A document with n aliased root fields and their variables. */
typedef struct KcsDoc
{
	StringInfoData decl;		/* "$a0: T!, $b0: U" */
	StringInfoData body;		/* "p0: productSet(...) {...} ..." */
	json_t	   *variables;
	double		cost;			/* estimated requested cost */
	int			n;
} KcsDoc;

extern void kcs_doc_init(KcsDoc *doc);
extern char *kcs_doc_finish(KcsDoc *doc, const char *optype, const char *name);
extern void kcs_doc_free(KcsDoc *doc);

/* ------------------------------------------------------------- product */
typedef struct KcsLevelQty
{
	char	   *location_gid;
	char	   *branch_code;
	int			quantity;		/* already clamped to >= 0 */
} KcsLevelQty;

typedef struct KcsSku
{
	char	   *sku_code;
	char	   *colour;
	char	   *size;
	char	   *barcode;		/* NULL = none */
	char	   *price;			/* effective price, "39.90" */
	char	   *compare_at;		/* retail when a sale applies, else NULL */
	char	   *variant_gid;	/* from variant_link or adoption, or NULL */
	char	   *inventory_item_gid;
	List	   *levels;			/* KcsLevelQty: new variants only */
} KcsSku;

typedef struct KcsNameValue
{
	char	   *name;
	char	   *value;
	int			no;
} KcsNameValue;

typedef struct KcsStyle
{
	char	   *style_code;
	bool		exists;			/* in ci.style */
	bool		internet_active;
	char	   *title;
	char	   *long_description;
	char	   *vendor;
	char	   *product_type;
	char	   *product_gid;	/* from product_link, or adoption */
	bool		adopt;			/* product_gid came from adoption */
	List	   *sent_keys;		/* "ns.key" of our metafields last confirmed
								 * (product_link.metafield_keys) */
	List	   *skus;			/* KcsSku */
	List	   *tabs;			/* KcsNameValue: heading, body, tab_no */
	List	   *attrs;			/* KcsNameValue: name, value */
} KcsStyle;

/*
 * Add productSet for one style as alias p<doc->n>; returns its cost.
 *
 * A never-linked style (new product) is keyed on its customId and carries
 * the full metafield list.  A linked one (product_gid set) is keyed on its
 * id and sends NO metafields list (productSet would delete every metafield
 * not in it, the merchant's included): its metafields follow in the same
 * document as metafieldsSet m<i>_<j> (<= 25 each) and the ones CI no
 * longer has (st->sent_keys minus ours now) as metafieldsDelete d<i>_<j>.
 */
extern double kcs_product_set_add(KcsDoc *doc, KcsStyle *st);
extern double kcs_product_set_cost(KcsStyle *st);
/* bulk.c: the productSet alone (a bulk line holds one mutation) ... */
extern double kcs_product_set_line_add(KcsDoc *doc, KcsStyle *st);
/* ... and a linked style's metafield calls alone, aliases m<doc->n>_<j>, d<doc->n>_<j> */
extern double kcs_product_metafields_add(KcsDoc *doc, KcsStyle *st);
/* "ns.key" of every metafield sent for the style (palloc'd, in send order) */
extern List *kcs_product_metafield_keys(KcsStyle *st);
/* metafieldsSet / metafieldsDelete calls kcs_product_set_add adds for it */
extern int	kcs_product_metafield_calls(KcsStyle *st, int *nset, int *ndel);
/* Add the adoption lookup for one unlinked style (aliases a<i>, v<i>). */
extern double kcs_product_adopt_add(KcsDoc *doc, KcsStyle *st);
extern char *kcs_html_description(const char *text);
extern char *kcs_utf8(const char *s);

/* ----------------------------------------------------------- inventory */
typedef struct KcsLevel
{
	char	   *sku_code;
	char	   *branch_code;
	char	   *item_gid;
	char	   *location_gid;
	int			target;			/* CI on_hand, clamped to >= 0 */
	bool		known;			/* shopify_on_hand known */
	int			shopify_on_hand;
	char	   *key;			/* per-level idempotency key */
	int			item_index;		/* index into the KcsItem array */
} KcsLevel;

extern void kcs_inventory_read_add(KcsDoc *doc, KcsLevel *lv);
extern void kcs_inventory_activate_add(KcsDoc *doc, KcsLevel *lv, const char *key);
/* The whole inventorySetQuantities document for n levels. */
extern char *kcs_inventory_set_doc(KcsLevel **lv, int n, json_t **variables,
								   char **batch_key);

/* ------------------------------------------------------------ customer */
typedef struct KcsCustomer
{
	char	   *customer_code;
	bool		exists;
	char	   *first_name;
	char	   *last_name;
	char	   *email;
	char	   *phone;			/* normalised to E.164 where possible */
	char	   *address1;
	char	   *address2;
	char	   *city;
	char	   *postcode;
	char	   *country_code;
	char	   *customer_gid;	/* from customer_link, or NULL */
	char	   *identifier;		/* "email:..." / "phone:..." / "id:..." */
} KcsCustomer;

extern void kcs_customer_set_add(KcsDoc *doc, KcsCustomer *c);
extern char *kcs_customer_metafields_doc(KcsCustomer **c, const char **gids, int n,
										 json_t **variables);
extern char *kcs_normalise_phone(const char *phone, const char *country);

/* metafieldDefinitionCreate for kcloud.style_code and kcloud.customer_code */
extern char *kcs_definitions_doc(json_t **variables);
/* sync_product.c: make sure they exist in the connected shop (once) */
extern void kcs_ensure_definitions(void);

/* sync_inventory.c: hooks for location sync (weak in sync_location.c) */
extern bool kcs_inventory_zero_branch(json_t *payload, const char *branch_code);
extern void kcs_inventory_branch_activated(const char *branch_code);

#endif							/* KCS_GRAPHQL_H */
