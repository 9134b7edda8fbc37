/*
 * TEMPORARY stub of the worker's transport (http.c) so the entity code
 * links before the worker branch lands.  The coordinator deletes this file
 * at merge.
 */
#include "postgres.h"

#include "sync.h"

void
kcs_graphql_send(const char *query, json_t *variables, KcsReply *reply)
{
	memset(reply, 0, sizeof(*reply));
	reply->outcome = KCS_TRANSIENT;
	reply->error = pstrdup("no transport in this build (transport_stub.c)");
}

void
kcs_reply_free(KcsReply *reply)
{
	if (reply->root)
		json_decref(reply->root);
	reply->root = NULL;
	reply->data = NULL;
}
