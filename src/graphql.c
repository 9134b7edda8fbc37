/*-------------------------------------------------------------------------
 *
 * graphql.c
 *	  GraphQL documents and payloads of the entity sync (graphql.h).
 *
 * The builders take CI state already read (KcsStyle, KcsLevel,
 * KcsCustomer) and append one aliased root field plus its variables to a
 * KcsDoc, so several small mutations travel in one request when that saves
 * round trips.  Every document here was checked against the Shopify
 * simulator, which validates against the published 2026-10 schema.
 *
 * No function here talks to the database or the network.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "graphql.h"
#include "kcloud_shopify.h"

/* ---------------------------------------------------------------- json */

json_t *
kcs_json_obj(void)
{
	return json_pack("{}");
}

/* length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, surrogates or > U+10FFFF), else 0 */
static int
utf8_seq(const unsigned char *p)
{
	unsigned char c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (p[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF)
	{
		unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;
		unsigned char hi = (c == 0xED) ? 0x9F : 0xBF;

		return (p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80) ? 3 : 0;
	}
	if (c >= 0xF0 && c <= 0xF4)
	{
		unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;
		unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF;

		return (p[1] >= lo && p[1] <= hi && (p[2] & 0xC0) == 0x80 &&
				(p[3] & 0xC0) == 0x80) ? 4 : 0;
	}
	return 0;
}

/*
 * CI text as valid UTF-8: the string itself when it is, else a palloc'd
 * copy with each invalid byte replaced by U+FFFD.  JSON must be UTF-8, and
 * jansson answers NULL for anything else, which json_pack() turns into a
 * missing object -- a dropped variant, and productSet deletes a variant it
 * is not sent.  A database in another encoding is converted on reading
 * (ci_read.c); only SQL_ASCII can hand over bytes that are not text.
 */
char *
kcs_utf8(const char *s)
{
	const unsigned char *p;
	StringInfoData out;

	if (s == NULL)
		return NULL;
	for (p = (const unsigned char *) s; *p;)
	{
		int			n = utf8_seq(p);

		if (n == 0)
			break;
		p += n;
	}
	if (*p == '\0')
		return (char *) s;
	initStringInfo(&out);
	appendBinaryStringInfo(&out, s, (const char *) p - s);
	while (*p)
	{
		int			n = utf8_seq(p);

		if (n == 0)
		{
			appendStringInfoString(&out, "\xEF\xBF\xBD");
			p++;
		}
		else
		{
			appendBinaryStringInfo(&out, (const char *) p, n);
			p += n;
		}
	}
	return out.data;
}

void
kcs_json_set_str(json_t *obj, const char *key, const char *val)
{
	if (val != NULL)
		json_object_set_new(obj, key, json_string(val));
}

void
kcs_json_set_str_or_null(json_t *obj, const char *key, const char *val)
{
	json_object_set_new(obj, key, val ? json_string(val) : json_null());
}

const char *
kcs_json_str(json_t *obj, const char *key)
{
	json_t	   *v;

	if (!json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

json_t *
kcs_json_path(json_t *root, const char *a, const char *b, const char *c)
{
	json_t	   *j = root;

	if (a && json_is_object(j))
		j = json_object_get(j, a);
	if (b && json_is_object(j))
		j = json_object_get(j, b);
	else if (b)
		return NULL;
	if (c && json_is_object(j))
		j = json_object_get(j, c);
	else if (c)
		return NULL;
	return j;
}

char *
kcs_json_to_cstring(json_t *j)
{
	char	   *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	char	   *r;

	if (s == NULL)
		return pstrdup("null");
	r = pstrdup(s);
	free(s);
	return r;
}

/* ---------------------------------------------------------------- GIDs */

const char *
kcs_gid_tail(const char *gid)
{
	const char *slash;

	if (gid == NULL)
		return NULL;
	slash = strrchr(gid, '/');
	return slash ? slash + 1 : gid;
}

char *
kcs_gid_make(const char *type, const char *id)
{
	if (strncmp(id, "gid://", 6) == 0)
		return pstrdup(id);
	return psprintf("gid://shopify/%s/%s", type, id);
}

/* --------------------------------------------------------- userErrors */

int
kcs_user_errors(json_t *payload, const char *listname, KcsUserError **out)
{
	json_t	   *list = json_is_object(payload) ? json_object_get(payload, listname) : NULL;
	size_t		i;
	json_t	   *e;
	int			n = 0;

	*out = NULL;
	if (!json_is_array(list) || json_array_size(list) == 0)
		return 0;
	*out = palloc0(sizeof(KcsUserError) * json_array_size(list));
	json_array_foreach(list, i, e)
	{
		KcsUserError *ue = &(*out)[n++];
		json_t	   *field = json_object_get(e, "field");
		const char *code = kcs_json_str(e, "code");
		const char *msg = kcs_json_str(e, "message");

		ue->code = code ? pstrdup(code) : NULL;
		ue->message = pstrdup(msg ? msg : "(no message)");
		ue->index = -1;
		if (json_is_array(field))
		{
			size_t		j;
			json_t	   *f;

			json_array_foreach(field, j, f)
			{
				const char *s = json_is_string(f) ? json_string_value(f) : NULL;

				if (json_is_integer(f))
				{
					ue->index = (int) json_integer_value(f);
					break;
				}
				if (s && s[0] && strspn(s, "0123456789") == strlen(s))
				{
					ue->index = atoi(s);
					break;
				}
			}
		}
	}
	return n;
}

char *
kcs_user_errors_text(KcsUserError *errs, int n)
{
	StringInfoData s;
	int			i;

	initStringInfo(&s);
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&s, "; ");
		if (errs[i].code)
			appendStringInfo(&s, "%s: ", errs[i].code);
		appendStringInfoString(&s, errs[i].message);
	}
	return s.data;
}

/* ----------------------------------------------------------- documents */

/* the most one combined request may cost: 900, or 80% of a smaller bucket */
double
kcs_cost_budget(void)
{
	double		max = kcs_shared ? kcs_shared->bucket_max : 0;

	if (max > 0 && 0.8 * max < KCS_COST_BUDGET)
		return Max(0.8 * max, 20.0);
	return KCS_COST_BUDGET;
}

void
kcs_doc_init(KcsDoc *doc)
{
	initStringInfo(&doc->decl);
	initStringInfo(&doc->body);
	doc->variables = kcs_json_obj();
	doc->cost = 0;
	doc->n = 0;
}

static void
doc_decl(KcsDoc *doc, const char *fmt,...) pg_attribute_printf(2, 3);

static void
doc_decl(KcsDoc *doc, const char *fmt,...)
{
	va_list		args;
	char		buf[256];

	va_start(args, fmt);
	vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	if (doc->decl.len > 0)
		appendStringInfoString(&doc->decl, ", ");
	appendStringInfoString(&doc->decl, buf);
}

/* "mutation Name($a0: T!, ...) {\n  body}" (palloc'd) */
char *
kcs_doc_finish(KcsDoc *doc, const char *optype, const char *name)
{
	if (doc->decl.len > 0)
		return psprintf("%s %s(%s) {\n%s}", optype, name, doc->decl.data, doc->body.data);
	return psprintf("%s %s {\n%s}", optype, name, doc->body.data);
}

void
kcs_doc_free(KcsDoc *doc)
{
	if (doc->variables)
		json_decref(doc->variables);
	doc->variables = NULL;
	pfree(doc->decl.data);
	pfree(doc->body.data);
}

/* ------------------------------------------------------------- product */

/* HTML-escape plain text; paragraphs on blank lines, <br> on single ones. */
char *
kcs_html_description(const char *text)
{
	StringInfoData s;
	const char *p;
	bool		looks_html = false;

	/* web copy that already carries (simple HTML) tags is sent as it is */
	for (p = text; *p && !looks_html; p++)
	{
		static const char *const tags[] = {
			"p", "br", "b", "i", "u", "em", "strong", "ul", "ol", "li", "a", "span",
			"div", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "td", "th",
			"hr", "small", "sup", "sub", "blockquote", "img", NULL
		};
		const char *t;
		int			k;

		if (p[0] != '<')
			continue;
		t = p + 1 + (p[1] == '/');
		for (k = 0; tags[k]; k++)
		{
			size_t		len = strlen(tags[k]);

			if (pg_strncasecmp(t, tags[k], len) == 0 &&
				(t[len] == '>' || t[len] == ' ' || t[len] == '/'))
			{
				looks_html = true;
				break;
			}
		}
	}
	if (looks_html)
		return pstrdup(text);

	initStringInfo(&s);
	appendStringInfoString(&s, "<p>");
	for (p = text; *p; p++)
	{
		switch (*p)
		{
			case '&':
				appendStringInfoString(&s, "&amp;");
				break;
			case '<':
				appendStringInfoString(&s, "&lt;");
				break;
			case '>':
				appendStringInfoString(&s, "&gt;");
				break;
			case '"':
				appendStringInfoString(&s, "&quot;");
				break;
			case '\'':
				appendStringInfoString(&s, "&#39;");
				break;
			case '\r':
				break;
			case '\n':
				if (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n'))
				{
					appendStringInfoString(&s, "</p><p>");
					while (p[1] == '\n' || p[1] == '\r')
						p++;
				}
				else
					appendStringInfoString(&s, "<br>");
				break;
			default:
				appendStringInfoChar(&s, *p);
		}
	}
	appendStringInfoString(&s, "</p>");
	return s.data;
}

/* metafield key from a CI attribute name: [a-z0-9_-], 2..64 chars */
static char *
metafield_key(const char *name)
{
	StringInfoData s;
	const char *p;

	initStringInfo(&s);
	for (p = name; *p && s.len < 64; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (isalnum(c) && c < 128)
			appendStringInfoChar(&s, tolower(c));
		else if (c == '-' || c == '_')
			appendStringInfoChar(&s, c);
		else if (s.len > 0 && s.data[s.len - 1] != '_')
			appendStringInfoChar(&s, '_');
	}
	while (s.len > 0 && s.data[s.len - 1] == '_')
		s.data[--s.len] = '\0';
	if (s.len < 2)
	{
		char	   *k = psprintf("attr_%s", s.data);

		pfree(s.data);
		return k;
	}
	return s.data;
}

static json_t *
metafield(const char *ns, const char *key, const char *type, const char *value)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "namespace", ns, "key", key,
					 "type", type, "value", value);
}

static json_t *
product_metafields(KcsStyle *st)
{
	json_t	   *mfs = json_array();
	ListCell   *lc;
	List	   *keys = NIL;

	/* the customId: productSet refuses metafields without it */
	json_array_append_new(mfs, metafield(KCS_MF_NS, KCS_MF_STYLE_KEY, "id", st->style_code));

	if (st->tabs != NIL)
	{
		json_t	   *tabs = json_array();
		char	   *txt;

		foreach(lc, st->tabs)
		{
			KcsNameValue *t = lfirst(lc);

			json_array_append_new(tabs, json_pack("{s:i, s:s, s:s}", "tab_no", t->no,
												  "heading", t->name, "body", t->value));
		}
		txt = kcs_json_to_cstring(tabs);
		json_decref(tabs);
		json_array_append_new(mfs, metafield(KCS_MF_NS, KCS_MF_TABS_KEY, "json", txt));
	}

	foreach(lc, st->attrs)
	{
		KcsNameValue *a = lfirst(lc);
		char	   *key = metafield_key(a->name);
		char	   *k = key;
		int			dup = 1;
		ListCell   *kc;

		/* two names folding to one key: the later gets _2, _3 ... */
	again:
		foreach(kc, keys)
		{
			if (strcmp((char *) lfirst(kc), k) == 0)
			{
				k = psprintf("%.*s_%d", 60, key, ++dup);
				goto again;
			}
		}
		keys = lappend(keys, k);
		json_array_append_new(mfs, metafield(KCS_MF_ATTR_NS, k,
											 strchr(a->value, '\n') ? "multi_line_text_field"
											 : "single_line_text_field",
											 a->value));
	}
	return mfs;
}

/* option values in order of first appearance */
static json_t *
option_values(List *skus, bool colour)
{
	json_t	   *vals = json_array();
	List	   *seen = NIL;
	ListCell   *lc;

	foreach(lc, skus)
	{
		KcsSku	   *k = lfirst(lc);
		char	   *v = colour ? k->colour : k->size;
		ListCell   *sc;
		bool		found = false;

		foreach(sc, seen)
		{
			if (strcmp((char *) lfirst(sc), v) == 0)
			{
				found = true;
				break;
			}
		}
		if (!found)
		{
			seen = lappend(seen, v);
			json_array_append_new(vals, json_pack("{s:s}", "name", v));
		}
	}
	list_free(seen);
	return vals;
}

static int
style_metafield_count(KcsStyle *st)
{
	return 1 + (st->tabs != NIL ? 1 : 0) + list_length(st->attrs);
}

static int
variants_page(KcsStyle *st)
{
	int			n = list_length(st->skus);

	return Max(1, Min(n, KCS_MAX_VARIANTS));
}

/* the metafield's "ns.key" */
static char *
mf_key_of(json_t *mf)
{
	return psprintf("%s.%s", kcs_json_str(mf, "namespace"), kcs_json_str(mf, "key"));
}

List *
kcs_product_metafield_keys(KcsStyle *st)
{
	json_t	   *mfs = product_metafields(st);
	List	   *keys = NIL;
	size_t		i;
	json_t	   *mf;

	json_array_foreach(mfs, i, mf)
		keys = lappend(keys, mf_key_of(mf));
	json_decref(mfs);
	return keys;
}

/* is "ns.key" in one of the namespaces we own? */
static bool
owned_key(const char *nskey)
{
	size_t		n = strlen(KCS_MF_NS);
	size_t		a = strlen(KCS_MF_ATTR_NS);

	return (strncmp(nskey, KCS_MF_NS, n) == 0 && nskey[n] == '.') ||
		(strncmp(nskey, KCS_MF_ATTR_NS, a) == 0 && nskey[a] == '.');
}

/*
 * Our metafields the product had at the last confirmed sync and CI no
 * longer has (a removed attribute, the info tabs all removed): metafieldsDelete
 * identifiers.  Only keys in our namespaces: everything else is the
 * merchant's.
 */
static json_t *
stale_metafields(KcsStyle *st, json_t *mfs)
{
	json_t	   *dels = json_array();
	ListCell   *lc;

	foreach(lc, st->sent_keys)
	{
		char	   *old = lfirst(lc);
		const char *dot = strchr(old, '.');
		bool		still = false;
		size_t		i;
		json_t	   *mf;

		if (dot == NULL || !owned_key(old))
			continue;
		json_array_foreach(mfs, i, mf)
		{
			char	   *k = mf_key_of(mf);

			still = strcmp(k, old) == 0;
			pfree(k);
			if (still)
				break;
		}
		if (!still)
		{
			char	   *ns = pnstrdup(old, dot - old);

			json_array_append_new(dels, json_pack("{s:s, s:s, s:s}", "ownerId", st->product_gid,
												  "namespace", ns, "key", dot + 1));
			pfree(ns);
		}
	}
	return dels;
}

static int
calls_for(size_t n)
{
	return (int) ((n + KCS_MF_MAX - 1) / KCS_MF_MAX);
}

int
kcs_product_metafield_calls(KcsStyle *st, int *nset, int *ndel)
{
	json_t	   *mfs;
	json_t	   *dels;

	*nset = *ndel = 0;
	if (!st->exists || st->product_gid == NULL)
		return 0;
	mfs = product_metafields(st);
	dels = stale_metafields(st, mfs);
	*nset = calls_for(json_array_size(mfs));
	*ndel = calls_for(json_array_size(dels));
	json_decref(mfs);
	json_decref(dels);
	return *nset + *ndel;
}

/*
 * Requested cost as Shopify (and the simulator) compute it: mutation 10,
 * 0.2 per variant and 0.4 per metafield, plus the selection: product 1,
 * variants connection 2 + page x (node 1 + inventoryItem 1), userErrors 1.
 * A linked product sends no metafields in productSet but metafieldsSet /
 * metafieldsDelete calls: 10 each plus userErrors 1.
 */
double
kcs_product_set_cost(KcsStyle *st)
{
	int			nset,
				ndel;
	int			nmf;

	if (!st->exists)
		return 10 + 1 + 1;
	kcs_product_metafield_calls(st, &nset, &ndel);
	nmf = st->product_gid != NULL ? 0 : style_metafield_count(st);
	return ceil(10 + 0.2 * list_length(st->skus) + 0.4 * nmf)
		+ 1 + 2 + 2.0 * variants_page(st) + 1
		+ KCS_MF_CALL_COST * (nset + ndel);
}

/*
 * One root field per KCS_MF_MAX entries of list: alias <a><i>_<j>,
 * variable $<v><i>_<j>.  Entries are borrowed (json_array_append).
 */
static void
add_chunked(KcsDoc *doc, int i, json_t *list, char a, const char *v,
			const char *field, const char *type, const char *errsel)
{
	size_t		k;
	json_t	   *e;
	json_t	   *chunk = NULL;
	int			j = 0;

	json_array_foreach(list, k, e)
	{
		if (chunk == NULL)
			chunk = json_array();
		json_array_append(chunk, e);
		if (json_array_size(chunk) == KCS_MF_MAX || k + 1 == json_array_size(list))
		{
			appendStringInfo(&doc->body,
							 "  %c%d_%d: %s(metafields: $%s%d_%d) {\n"
							 "    userErrors { %s }\n  }\n", a, i, j, field, v, i, j, errsel);
			doc_decl(doc, "$%s%d_%d: [%s!]!", v, i, j, type);
			json_object_set_new(doc->variables, psprintf("%s%d_%d", v, i, j), chunk);
			chunk = NULL;
			j++;
		}
	}
}

/* metafieldsSet / metafieldsDelete of a linked product, <= 25 per call */
static void
metafield_calls_add(KcsDoc *doc, int i, KcsStyle *st, json_t *mfs)
{
	json_t	   *dels = stale_metafields(st, mfs);
	size_t		k;
	json_t	   *mf;

	json_array_foreach(mfs, k, mf)
		json_object_set_new(mf, "ownerId", json_string(st->product_gid));
	add_chunked(doc, i, mfs, 'm', "mf", "metafieldsSet", "MetafieldsSetInput",
				"field message code");
	/* (MetafieldsDeletePayload.userErrors is UserError: no code) */
	add_chunked(doc, i, dels, 'd', "md", "metafieldsDelete", "MetafieldIdentifierInput",
				"field message");
	json_decref(dels);
}

static double product_set_add(KcsDoc *doc, KcsStyle *st, bool calls);

double
kcs_product_set_add(KcsDoc *doc, KcsStyle *st)
{
	return product_set_add(doc, st, true);
}

double
kcs_product_set_line_add(KcsDoc *doc, KcsStyle *st)
{
	return product_set_add(doc, st, false);
}

double
kcs_product_metafields_add(KcsDoc *doc, KcsStyle *st)
{
	int			nset,
				ndel;
	json_t	   *mfs;

	if (kcs_product_metafield_calls(st, &nset, &ndel) == 0)
		return 0;
	mfs = product_metafields(st);
	metafield_calls_add(doc, doc->n, st, mfs);
	json_decref(mfs);
	doc->cost += KCS_MF_CALL_COST * (nset + ndel);
	doc->n++;
	return KCS_MF_CALL_COST * (nset + ndel);
}

static double
product_set_add(KcsDoc *doc, KcsStyle *st, bool calls)
{
	int			i = doc->n;
	json_t	   *ident;
	json_t	   *input = kcs_json_obj();
	json_t	   *mfs = NULL;
	double		cost = kcs_product_set_cost(st);

	if (!st->exists)
	{
		/* deleted in CI: hide it, touch nothing else (update only) */
		ident = json_pack("{s:s}", "id", st->product_gid);
		kcs_json_set_str(input, "status", "DRAFT");
		appendStringInfo(&doc->body,
						 "  p%d: productSet(identifier: $identifier%d, input: $input%d) {\n"
						 "    product { id status }\n"
						 "    userErrors { field message code }\n  }\n", i, i, i);
	}
	else
	{
		json_t	   *variants = json_array();
		ListCell   *lc;

		mfs = product_metafields(st);
		if (st->product_gid != NULL)
			ident = json_pack("{s:s}", "id", st->product_gid);
		else
			ident = json_pack("{s:{s:s, s:s, s:s}}", "customId", "namespace", KCS_MF_NS,
							  "key", KCS_MF_STYLE_KEY, "value", st->style_code);
		kcs_json_set_str(input, "title", st->title);
		if (st->long_description)
		{
			char	   *html = kcs_html_description(st->long_description);

			kcs_json_set_str(input, "descriptionHtml", html);
			pfree(html);
		}
		kcs_json_set_str(input, "vendor", st->vendor);
		kcs_json_set_str(input, "productType", st->product_type);
		kcs_json_set_str(input, "status", st->internet_active ? "ACTIVE" : "DRAFT");
		/* the full list only for a new product: it has no merchant metafields */
		if (st->product_gid == NULL)
			json_object_set_new(input, "metafields", json_incref(mfs));
		if (st->skus != NIL)
		{
			json_object_set_new(input, "productOptions",
								json_pack("[{s:s, s:i, s:o}, {s:s, s:i, s:o}]",
										  "name", "Colour", "position", 1,
										  "values", option_values(st->skus, true),
										  "name", "Size", "position", 2,
										  "values", option_values(st->skus, false)));
			foreach(lc, st->skus)
			{
				KcsSku	   *k = lfirst(lc);
				json_t	   *v = kcs_json_obj();

				if (k->variant_gid)
					kcs_json_set_str(v, "id", k->variant_gid);
				json_object_set_new(v, "optionValues",
									json_pack("[{s:s, s:s}, {s:s, s:s}]",
											  "optionName", "Colour", "name", k->colour,
											  "optionName", "Size", "name", k->size));
				kcs_json_set_str(v, "sku", k->sku_code);
				kcs_json_set_str(v, "barcode", k->barcode);
				kcs_json_set_str(v, "price", k->price);
				kcs_json_set_str_or_null(v, "compareAtPrice", k->compare_at);
				json_object_set_new(v, "inventoryItem", json_pack("{s:b}", "tracked", 1));
				if (k->variant_gid == NULL && k->levels != NIL)
				{
					json_t	   *iq = json_array();
					ListCell   *qc;

					foreach(qc, k->levels)
					{
						KcsLevelQty *q = lfirst(qc);

						json_array_append_new(iq, json_pack("{s:s, s:s, s:i}",
															"locationId", q->location_gid,
															"name", "on_hand",
															"quantity", q->quantity));
					}
					json_object_set_new(v, "inventoryQuantities", iq);
				}
				json_array_append_new(variants, v);
			}
			json_object_set_new(input, "variants", variants);
		}
		else
			json_decref(variants);
		appendStringInfo(&doc->body,
						 "  p%d: productSet(identifier: $identifier%d, input: $input%d) {\n"
						 "    product { id status variants(first: %d) { nodes { id sku inventoryItem { id } } } }\n"
						 "    userErrors { field message code }\n  }\n",
						 i, i, i, variants_page(st));
	}
	doc_decl(doc, "$identifier%d: ProductSetIdentifiers", i);
	doc_decl(doc, "$input%d: ProductSetInput!", i);
	json_object_set_new(doc->variables, psprintf("identifier%d", i), ident);
	json_object_set_new(doc->variables, psprintf("input%d", i), input);
	if (mfs != NULL)
	{
		if (st->product_gid != NULL && calls)
			metafield_calls_add(doc, i, st, mfs);
		else if (st->product_gid != NULL)
		{
			int			nset,
						ndel;

			/* the metafield calls follow separately (bulk.c) */
			kcs_product_metafield_calls(st, &nset, &ndel);
			cost -= KCS_MF_CALL_COST * (nset + ndel);
		}
		json_decref(mfs);
	}
	doc->cost += cost;
	doc->n++;
	return cost;
}

/* a search term value in double quotes */
static void
append_search_value(StringInfo s, const char *v)
{
	appendStringInfoChar(s, '"');
	for (; *v; v++)
	{
		if (*v == '"' || *v == '\\')
			appendStringInfoChar(s, '\\');
		appendStringInfoChar(s, *v);
	}
	appendStringInfoChar(s, '"');
}

#define KCS_ADOPT_SKUS	50

/*
 * First sync of a style: is it there already?  a<i> finds a product we
 * created earlier (its customId), v<i> existing variants with the style's
 * SKUs (a product made by hand or by another tool, to be adopted).  A style
 * without SKUs has no v<i>: an empty search matches every variant, and the
 * shop's first product would be taken for the style's.
 */
double
kcs_product_adopt_add(KcsDoc *doc, KcsStyle *st)
{
	int			i = doc->n;
	StringInfoData q;
	ListCell   *lc;
	int			n = 0;
	double		cost;

	initStringInfo(&q);
	foreach(lc, st->skus)
	{
		KcsSku	   *k = lfirst(lc);

		if (n == KCS_ADOPT_SKUS)
			break;
		if (n++ > 0)
			appendStringInfoString(&q, " OR ");
		appendStringInfoString(&q, "sku:");
		append_search_value(&q, k->sku_code);
	}
	appendStringInfo(&doc->body,
					 "  a%d: productByIdentifier(identifier: $c%d) { id }\n", i, i);
	doc_decl(doc, "$c%d: ProductIdentifierInput!", i);
	json_object_set_new(doc->variables, psprintf("c%d", i),
						json_pack("{s:{s:s, s:s, s:s}}", "customId", "namespace", KCS_MF_NS,
								  "key", KCS_MF_STYLE_KEY, "value", st->style_code));
	if (n > 0)
	{
		appendStringInfo(&doc->body,
						 "  v%d: productVariants(first: %d, query: $q%d) { nodes { id sku product { id } } }\n",
						 i, n, i);
		doc_decl(doc, "$q%d: String!", i);
		json_object_set_new(doc->variables, psprintf("q%d", i), json_string(q.data));
	}
	pfree(q.data);
	cost = 1 + 2 + Max(n, 1) * 2.0;
	doc->cost += cost;
	doc->n++;
	return cost;
}

/* ----------------------------------------------------------- inventory */

void
kcs_inventory_read_add(KcsDoc *doc, KcsLevel *lv)
{
	int			i = doc->n;

	appendStringInfo(&doc->body,
					 "  l%d: inventoryItem(id: $i%d) { id inventoryLevel(locationId: $l%d) { quantities(names: [\"on_hand\"]) { name quantity } } }\n",
					 i, i, i);
	doc_decl(doc, "$i%d: ID!", i);
	doc_decl(doc, "$l%d: ID!", i);
	json_object_set_new(doc->variables, psprintf("i%d", i), json_string(lv->item_gid));
	json_object_set_new(doc->variables, psprintf("l%d", i), json_string(lv->location_gid));
	doc->cost += 4;
	doc->n++;
}

void
kcs_inventory_activate_add(KcsDoc *doc, KcsLevel *lv, const char *key)
{
	int			i = doc->n;

	appendStringInfo(&doc->body,
					 "  a%d: inventoryActivate(inventoryItemId: $i%d, locationId: $l%d) @idempotent(key: $k%d) {\n"
					 "    inventoryLevel { quantities(names: [\"on_hand\"]) { name quantity } }\n"
					 "    userErrors { field message }\n  }\n", i, i, i, i);
	doc_decl(doc, "$i%d: ID!", i);
	doc_decl(doc, "$l%d: ID!", i);
	doc_decl(doc, "$k%d: String!", i);
	json_object_set_new(doc->variables, psprintf("i%d", i), json_string(lv->item_gid));
	json_object_set_new(doc->variables, psprintf("l%d", i), json_string(lv->location_gid));
	json_object_set_new(doc->variables, psprintf("k%d", i), json_string(key));
	doc->cost += 14;
	doc->n++;
}

/* FNV-1a, 64 bit: a non-cryptographic hash needs no resource owner */
static uint64
fnv1a(uint64 h, const char *s)
{
	for (; *s; s++)
	{
		h ^= (unsigned char) *s;
		h *= UINT64CONST(0x100000001b3);
	}
	return h ^ 0xff;			/* separator */
}

#define KCS_INVENTORY_SET_DOC \
	"mutation KcsInventorySet($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {\n" \
	"  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {\n" \
	"    inventoryAdjustmentGroup { id }\n" \
	"    userErrors { field message code }\n  }\n}"

/*
 * inventorySetQuantities for n levels, name on_hand, each with
 * changeFromQuantity = the last on_hand Shopify reported (always present).
 * The request's idempotency key is a hash of the per-level keys and the
 * quantities: a retry of the same levels with the same values reuses it
 * (Shopify replays), anything else is a new key.
 */
char *
kcs_inventory_set_doc(KcsLevel **lv, int n, json_t **variables, char **batch_key)
{
	json_t	   *q = json_array();
	uint64		h = UINT64CONST(0xcbf29ce484222325);
	int			i;

	for (i = 0; i < n; i++)
	{
		json_t	   *e = json_pack("{s:s, s:s, s:i}",
								  "inventoryItemId", lv[i]->item_gid,
								  "locationId", lv[i]->location_gid,
								  "quantity", lv[i]->target);
		char		num[32];

		json_object_set_new(e, "changeFromQuantity",
							lv[i]->known ? json_integer(lv[i]->shopify_on_hand) : json_null());
		json_array_append_new(q, e);
		h = fnv1a(h, lv[i]->key ? lv[i]->key : "");
		h = fnv1a(h, lv[i]->item_gid);
		h = fnv1a(h, lv[i]->location_gid);
		snprintf(num, sizeof(num), "%d/%d", lv[i]->target,
				 lv[i]->known ? lv[i]->shopify_on_hand : -1);
		h = fnv1a(h, num);
	}
	*batch_key = psprintf("kcs-inv-%016llx-%d", (unsigned long long) h, n);
	*variables = json_pack("{s:s, s:{s:s, s:s, s:o}}",
						   "idempotencyKey", *batch_key,
						   "input", "name", "on_hand", "reason", "correction",
						   "quantities", q);
	return pstrdup(KCS_INVENTORY_SET_DOC);
}

/* ------------------------------------------------------------ customer */

/*
 * E.164 where we can: keep a leading +, 00 -> +, a national 0 -> the
 * country's calling code (NZ, AU, GB, IE; NZ when CI has no country).
 * Anything else is sent as CI holds it (digits only).
 */
char *
kcs_normalise_phone(const char *phone, const char *country)
{
	StringInfoData d;
	const char *p;
	bool		plus = false;
	const char *cc = "64";

	if (phone == NULL)
		return NULL;
	initStringInfo(&d);
	for (p = phone; *p; p++)
	{
		if (*p == '+' && d.len == 0)
			plus = true;
		else if (isdigit((unsigned char) *p))
			appendStringInfoChar(&d, *p);
	}
	if (d.len == 0)
	{
		pfree(d.data);
		return NULL;
	}
	if (plus)
		return psprintf("+%s", d.data);
	if (strncmp(d.data, "00", 2) == 0)
		return psprintf("+%s", d.data + 2);
	if (country)
	{
		if (pg_strncasecmp(country, "AU", 2) == 0)
			cc = "61";
		else if (pg_strncasecmp(country, "GB", 2) == 0)
			cc = "44";
		else if (pg_strncasecmp(country, "IE", 2) == 0)
			cc = "353";
		else if (pg_strncasecmp(country, "US", 2) == 0 || pg_strncasecmp(country, "CA", 2) == 0)
			cc = "1";
	}
	if (d.data[0] == '0')
		return psprintf("+%s%s", cc, d.data + 1);
	if (strcmp(cc, "1") == 0 && d.len == 10)
		return psprintf("+1%s", d.data);
	return d.data;
}

void
kcs_customer_set_add(KcsDoc *doc, KcsCustomer *c)
{
	int			i = doc->n;
	json_t	   *ident;
	json_t	   *input = kcs_json_obj();

	if (c->customer_gid)
		ident = json_pack("{s:s}", "id", c->customer_gid);
	else if (c->email)
		ident = json_pack("{s:s}", "email", c->email);
	else
		ident = json_pack("{s:s}", "phone", c->phone);
	kcs_json_set_str(input, "email", c->email);
	kcs_json_set_str(input, "phone", c->phone);
	kcs_json_set_str(input, "firstName", c->first_name);
	kcs_json_set_str(input, "lastName", c->last_name);
	/* addresses replace Shopify's list: only sent when CI has one */
	if (c->address1 || c->city || c->postcode)
	{
		json_t	   *a = kcs_json_obj();

		kcs_json_set_str(a, "address1", c->address1);
		kcs_json_set_str(a, "address2", c->address2);
		kcs_json_set_str(a, "city", c->city);
		kcs_json_set_str(a, "zip", c->postcode);
		kcs_json_set_str(a, "countryCode", c->country_code);
		kcs_json_set_str(a, "firstName", c->first_name);
		kcs_json_set_str(a, "lastName", c->last_name);
		json_object_set_new(input, "addresses", json_pack("[o]", a));
	}
	appendStringInfo(&doc->body,
					 "  c%d: customerSet(identifier: $identifier%d, input: $input%d) {\n"
					 "    customer { id }\n"
					 "    userErrors { field message code }\n  }\n", i, i, i);
	doc_decl(doc, "$identifier%d: CustomerSetIdentifiers", i);
	doc_decl(doc, "$input%d: CustomerSetInput!", i);
	json_object_set_new(doc->variables, psprintf("identifier%d", i), ident);
	json_object_set_new(doc->variables, psprintf("input%d", i), input);
	doc->cost += 12;
	doc->n++;
}

/* metafieldsSet with the CI customer code (type id) for n customers (<= 25) */
char *
kcs_customer_metafields_doc(KcsCustomer **c, const char **gids, int n, json_t **variables)
{
	json_t	   *mfs = json_array();
	int			i;

	for (i = 0; i < n; i++)
		json_array_append_new(mfs, json_pack("{s:s, s:s, s:s, s:s, s:s}",
											 "ownerId", gids[i],
											 "namespace", KCS_MF_NS,
											 "key", KCS_MF_CUSTOMER_KEY,
											 "type", "id",
											 "value", c[i]->customer_code));
	*variables = json_pack("{s:o}", "metafields", mfs);
	return pstrdup("mutation KcsCustomerMetafields($metafields: [MetafieldsSetInput!]!) {\n"
				   "  metafieldsSet(metafields: $metafields) {\n"
				   "    metafields { id }\n"
				   "    userErrors { field message code }\n  }\n}");
}

/* ---------------------------------------------------------- definitions */

/*
 * Metafield definitions of our two custom ids (type id, unique values):
 * productSet / customerSet upserts by customId need them on a real shop.
 */
char *
kcs_definitions_doc(json_t **variables)
{
	*variables = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s}}",
						   "p", "name", "CI style code", "namespace", KCS_MF_NS,
						   "key", KCS_MF_STYLE_KEY, "type", "id", "ownerType", "PRODUCT",
						   "description", "Counter Intelligence style code (kcloud_shopify sync key)",
						   "c", "name", "CI customer code", "namespace", KCS_MF_NS,
						   "key", KCS_MF_CUSTOMER_KEY, "type", "id", "ownerType", "CUSTOMER",
						   "description", "Counter Intelligence customer code (kcloud_shopify sync key)");
	return pstrdup("mutation KcsMetafieldDefinitions($p: MetafieldDefinitionInput!, $c: MetafieldDefinitionInput!) {\n"
				   "  p: metafieldDefinitionCreate(definition: $p) { createdDefinition { id } userErrors { field message code } }\n"
				   "  c: metafieldDefinitionCreate(definition: $c) { createdDefinition { id } userErrors { field message code } }\n}");
}
