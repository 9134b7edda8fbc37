/*-------------------------------------------------------------------------
 *
 * fuzz_graphql.c
 *	  libFuzzer target over the entity sync's request builders and payload
 *	  parsers (src/graphql.c): productSet / adoption / customerSet /
 *	  inventorySetQuantities / metafieldsSet documents built from hostile
 *	  CI text, descriptionHtml, phone normalisation, GIDs and userErrors.
 *
 *	  The input is up to 24 fields separated by newlines (CI values: style
 *	  code, title, description, SKUs, prices, customer fields, ...), the
 *	  last one a JSON payload for the userErrors parser.
 *
 *	  Checks, besides AddressSanitizer/UBSan/leaks:
 *	  - no CI value reaches the GraphQL document text: every one travels in
 *	    the variables (no GraphQL injection); the document's brackets balance;
 *	  - the variables serialise to JSON whenever the CI text is valid UTF-8;
 *	  - plain text (no '<') becomes descriptionHtml whose only tags are the
 *	    <p>, </p> and <br> the builder adds;
 *	  - the adoption search query escapes quotes and backslashes, so every
 *	    SKU is one quoted term.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/memutils.h"

#include "graphql.h"
#include "pg_shim.h"

#define NFIELDS 24

static char *f[NFIELDS];

static char *
fld(int i)
{
	return f[i];
}

static char *
fld_or_null(int i)
{
	return (f[i] && f[i][0]) ? f[i] : NULL;
}

/* the document texts of one build, to compare with the placeholder build */
#define MAXDOCS 8
static char *docs[MAXDOCS];
static int	ndocs;

static void
check_doc(const char *doc, const char *what)
{
	int			depth[3] = {0, 0, 0};
	bool		in_str = false;

	if (ndocs < MAXDOCS)
		docs[ndocs++] = pstrdup(doc);
	for (const char *p = doc; *p; p++)
	{
		if (*p == '"' && (p == doc || p[-1] != '\\'))
			in_str = !in_str;
		if (in_str)
			continue;
		depth[0] += (*p == '{') - (*p == '}');
		depth[1] += (*p == '(') - (*p == ')');
		depth[2] += (*p == '[') - (*p == ']');
		if (depth[0] < 0 || depth[1] < 0 || depth[2] < 0)
			break;
	}
	if (depth[0] || depth[1] || depth[2] || in_str)
	{
		fprintf(stderr, "%s: unbalanced document:\n%s\n", what, doc);
		abort();
	}
}

static bool
valid_utf8(const char *s)
{
	json_t	   *j;

	if (s == NULL)
		return true;
	j = json_string(s);
	if (j == NULL)
		return false;
	json_decref(j);
	return true;
}

static void
check_variables(json_t *vars, const char *what)
{
	char	   *s;

	for (int i = 0; i < NFIELDS - 1; i++)
		if (!valid_utf8(f[i]))
			return;				/* jansson refuses the value: the field is left out */
	s = json_dumps(vars, JSON_COMPACT);
	if (s == NULL)
	{
		fprintf(stderr, "%s: variables do not serialise\n", what);
		abort();
	}
	free(s);
}

static void
check_html(const char *in, const char *out)
{
	if (in == NULL || strchr(in, '<') != NULL)
		return;
	for (const char *p = strchr(out, '<'); p; p = strchr(p + 1, '<'))
		if (strncmp(p, "<p>", 3) != 0 && strncmp(p, "</p>", 4) != 0 && strncmp(p, "<br>", 4) != 0)
		{
			fprintf(stderr, "plain text became markup: \"%s\" -> \"%s\"\n", in, out);
			abort();
		}
}

/* the adoption query: sku:"..." OR sku:"..." -- each term back to its SKU */
static void
check_search(json_t *vars, List *skus)
{
	const char *q = json_string_value(json_object_get(vars, "q0"));
	ListCell   *lc;
	int			n = 0;

	if (q == NULL)
		return;
	foreach(lc, skus)
	{
		KcsSku	   *k = lfirst(lc);
		StringInfoData term;

		if (n++ >= 50)
			break;
		if (n > 1)
		{
			if (strncmp(q, " OR ", 4) != 0)
				goto bad;
			q += 4;
		}
		if (strncmp(q, "sku:\"", 5) != 0)
			goto bad;
		q += 5;
		initStringInfo(&term);
		while (*q && *q != '"')
		{
			if (*q == '\\' && q[1])
				q++;
			appendStringInfoChar(&term, *q++);
		}
		if (*q != '"' || strcmp(term.data, k->sku_code) != 0)
			goto bad;
		q++;
		pfree(term.data);
	}
	if (*q == '\0')
		return;
bad:
	fprintf(stderr, "adoption query does not quote the SKUs: %s\n",
			json_string_value(json_object_get(vars, "q0")));
	abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	shim_init();
	return 0;
}

/*
 * Build every document from the fields f[] (structure from the original
 * input's lengths, passed in nums).
 */
static void
build(const int *nums)
{
	KcsStyle	st;
	KcsCustomer c;
	KcsCustomer *cs[1];
	const char *gids[1];
	KcsDoc		doc;
	char	   *text;
	int			nskus;
	KcsLevel	lv[3];
	KcsLevel   *lvp[3];
	json_t	   *vars = NULL;
	char	   *key = NULL;
	json_t	   *payload;
	KcsUserError *errs;
	int			nerr;

	ndocs = 0;
	/* a style with its SKUs, tabs and attributes */
	memset(&st, 0, sizeof(st));
	st.style_code = fld(0);
	st.exists = true;
	st.internet_active = nums[6] % 2 == 0;
	st.title = fld(1);
	st.long_description = fld_or_null(2);
	st.vendor = fld_or_null(3);
	st.product_type = fld_or_null(4);
	st.product_gid = fld_or_null(5);
	nskus = nums[7] % 5;
	for (int i = 0; i < nskus; i++)
	{
		KcsSku	   *k = palloc0(sizeof(KcsSku));

		k->sku_code = i == 0 ? fld(8) : psprintf("%s-%d", fld(8), i);
		k->colour = fld(9);
		k->size = fld(10);
		k->barcode = fld_or_null(11);
		k->price = fld(12);
		k->compare_at = fld_or_null(13);
		k->variant_gid = i % 2 ? fld_or_null(14) : NULL;
		k->inventory_item_gid = fld_or_null(15);
		if (i == 0 && fld(16)[0])
		{
			KcsLevelQty *q = palloc0(sizeof(KcsLevelQty));

			q->location_gid = fld(16);
			q->branch_code = fld(17);
			q->quantity = nums[17];
			k->levels = lappend(k->levels, q);
		}
		st.skus = lappend(st.skus, k);
	}
	if (fld(18)[0])
	{
		KcsNameValue *t = palloc0(sizeof(KcsNameValue));

		t->name = fld(18);
		t->value = fld(19);
		t->no = 1;
		st.tabs = lappend(st.tabs, t);
		t = palloc0(sizeof(KcsNameValue));
		t->name = fld(19);
		t->value = fld(18);
		st.attrs = lappend(st.attrs, t);
	}

	/* a customer */
	memset(&c, 0, sizeof(c));
	c.customer_code = fld(0);
	c.exists = true;
	c.first_name = fld_or_null(1);
	c.last_name = fld_or_null(3);
	c.email = fld_or_null(20);
	c.phone = kcs_normalise_phone(fld_or_null(21), fld_or_null(22));
	c.address1 = fld_or_null(4);
	c.address2 = fld_or_null(9);
	c.city = fld_or_null(10);
	c.postcode = fld_or_null(11);
	c.country_code = fld_or_null(22);
	c.customer_gid = fld_or_null(5);
	c.identifier = c.email ? psprintf("email:%s", c.email) : NULL;

	/* one document: productSet, adoption lookup, customerSet */
	kcs_doc_init(&doc);
	(void) kcs_product_set_cost(&st);
	(void) kcs_product_set_add(&doc, &st);
	(void) kcs_customer_set_add(&doc, &c);
	text = kcs_doc_finish(&doc, "mutation", "KcsFuzz");
	check_doc(text, "productSet + customerSet");
	check_variables(doc.variables, "productSet + customerSet");
	kcs_doc_free(&doc);

	kcs_doc_init(&doc);
	(void) kcs_product_adopt_add(&doc, &st);
	text = kcs_doc_finish(&doc, "query", "KcsAdopt");
	check_doc(text, "adoption");
	check_search(doc.variables, st.skus);
	kcs_doc_free(&doc);

	/* stock */
	for (int i = 0; i < 3; i++)
	{
		memset(&lv[i], 0, sizeof(lv[i]));
		lv[i].sku_code = fld(8);
		lv[i].branch_code = fld(17);
		lv[i].item_gid = fld(15);
		lv[i].location_gid = fld(16);
		lv[i].target = nums[12] - 2;
		lv[i].known = i != 1;
		lv[i].shopify_on_hand = nums[13] * (i - 1);
		lv[i].key = fld(14);
		lv[i].item_index = i;
		lvp[i] = &lv[i];
	}
	kcs_doc_init(&doc);
	kcs_inventory_read_add(&doc, &lv[0]);
	kcs_inventory_activate_add(&doc, &lv[1], fld(14));
	text = kcs_doc_finish(&doc, "mutation", "KcsLevels");
	check_doc(text, "inventory read/activate");
	kcs_doc_free(&doc);
	text = kcs_inventory_set_doc(lvp, 1 + nums[6] % 3, &vars, &key);
	check_doc(text, "inventorySetQuantities");
	if (vars)
		json_decref(vars);
	vars = NULL;

	/* customer metafields */
	cs[0] = &c;
	gids[0] = fld(5)[0] ? fld(5) : "gid://shopify/Customer/1";
	text = kcs_customer_metafields_doc(cs, gids, 1, &vars);
	if (text)
		check_doc(text, "customer metafields");
	if (vars)
		json_decref(vars);
	vars = NULL;

	/* descriptionHtml, GIDs */
	if (st.long_description)
		check_html(st.long_description, kcs_html_description(st.long_description));
	(void) kcs_gid_tail(fld(5));
	if (fld(5)[0])
		(void) kcs_gid_make("Product", fld(5));

	/* userErrors of a payload */
	payload = json_loads(fld(NFIELDS - 1), 0, NULL);
	nerr = kcs_user_errors(payload, "userErrors", &errs);
	if (nerr > 0)
		(void) kcs_user_errors_text(errs, nerr);
	if (payload)
		json_decref(payload);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static MemoryContext cxt = NULL;
	MemoryContext old;
	char	   *in;
	char	   *p;
	int			nums[NFIELDS];
	char	   *mine[MAXDOCS];
	int			nmine;

	if (cxt == NULL)
		cxt = AllocSetContextCreate(TopMemoryContext, "fuzz graphql", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	in = palloc(size + 1);
	memcpy(in, data, size);
	in[size] = '\0';
	p = in;
	for (int i = 0; i < NFIELDS; i++)
	{
		char	   *nl = (i < NFIELDS - 1 && p) ? strchr(p, '\n') : NULL;

		f[i] = p ? p : "";
		if (nl)
		{
			*nl = '\0';
			p = nl + 1;
		}
		else
			p = NULL;
		nums[i] = (int) strlen(f[i]);
	}
	/* CI values reach the builders as ci_read.c hands them over: UTF-8 */
	for (int i = 0; i < NFIELDS - 1; i++)
	{
		json_t	   *j;

		f[i] = kcs_utf8(f[i]);
		if ((j = json_string(f[i])) == NULL)
		{
			fprintf(stderr, "kcs_utf8 left text jansson refuses: field %d\n", i);
			abort();
		}
		json_decref(j);
	}

	build(nums);
	nmine = ndocs;
	memcpy(mine, docs, sizeof(mine));

	/*
	 * No CI value may reach the document text (GraphQL injection): the same
	 * build with every non-empty value replaced by "v" must produce the very
	 * same documents.  The userErrors payload stays.
	 */
	for (int i = 0; i < NFIELDS - 1; i++)
		if (f[i][0])
			f[i] = "v";
	build(nums);
	if (ndocs != nmine)
		abort();
	for (int i = 0; i < ndocs; i++)
		if (strcmp(docs[i], mine[i]) != 0)
		{
			fprintf(stderr, "the document text depends on CI values (injection?):\n--- with the input's values:\n%s\n--- with placeholders:\n%s\n",
					mine[i], docs[i]);
			abort();
		}

	MemoryContextSwitchTo(old);
	MemoryContextReset(cxt);
	return 0;
}
