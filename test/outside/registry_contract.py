"""The outside client of test/integration/registryConfluent.test.ts: Confluent's own Python
SchemaRegistryClient (confluent-kafka) against riskloop's registry, calling each endpoint as the
client calls it, with basic auth as Confluent clients send it (basic.auth.user.info).

Reads a JSON job on stdin:
  {"url", "admin", "writer", "reader" (user:password each), "prefix", "avsc" (path of Transaction.avsc)}
Prints one JSON object on stdout: step name -> what the client returned, or
{"error": {"status", "code", "message"}} when it raised SchemaRegistryError (or an HTTP error for
the steps done with requests, where the client has no method). The test asserts on it.
"""
import json
import sys

import requests
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

job = json.load(sys.stdin)
url = job["url"]
prefix = job["prefix"]
out = {}


def client(user_info=None):
    conf = {"url": url}
    if user_info is not None:
        conf["basic.auth.user.info"] = user_info
    # A fresh client per step: the client's caches would otherwise answer without asking the registry.
    return SchemaRegistryClient(conf)


def step(name, fn):
    try:
        out[name] = fn()
    except SchemaRegistryError as e:
        out[name] = {"error": {"status": e.http_status_code, "code": e.error_code, "message": e.error_message}}


def raw(name, method, path, user_info=None, **kwargs):
    auth = tuple(user_info.split(":", 1)) if user_info else None
    r = requests.request(method, url + path, auth=auth, timeout=30, **kwargs)
    body = r.json() if r.content else None
    out[name] = {"status": r.status_code, "body": body, "www_authenticate": r.headers.get("WWW-Authenticate")}


def java_order(node, in_record_fields=False):
    """Attributes in the order Java Avro's Schema.toString() prints them."""
    if isinstance(node, list):
        return [java_order(n) for n in node]
    if not isinstance(node, dict):
        return node
    if in_record_fields:
        order = ["name", "type", "doc", "default", "order", "aliases"]
    else:
        order = ["type", "name", "namespace", "doc", "fields", "symbols", "items", "values", "size", "default", "aliases"]
    keys = [k for k in order if k in node] + [k for k in node if k not in order]
    result = {}
    for k in keys:
        v = node[k]
        if k == "fields":
            result[k] = [java_order(f, True) for f in v]
        elif k in ("type", "items", "values"):
            result[k] = java_order(v)
        else:
            result[k] = v
    return result


def reversed_order(node):
    """Every object's attributes in reverse order: the same schema after parsing."""
    if isinstance(node, list):
        return [reversed_order(n) for n in node]
    if not isinstance(node, dict):
        return node
    return {k: reversed_order(node[k]) for k in reversed(list(node.keys()))}


admin, writer, reader = job["admin"], job["writer"], job["reader"]
with open(job["avsc"]) as f:
    repo_text = f.read()
parsed = json.loads(repo_text)
java_text = json.dumps(java_order(parsed), separators=(",", ":"))
reversed_text = json.dumps(reversed_order(parsed), indent=4)
out["java_differs_from_repo"] = json.dumps(parsed, separators=(",", ":")) != java_text

tx = f"{prefix}.transactions-value"
other = f"{prefix}.other-value"
payment_v1 = json.dumps({"type": "record", "name": "Payment", "namespace": "riskloop.contract",
                         "fields": [{"name": "id", "type": "string"}]})
payment_v2 = json.dumps({"type": "record", "name": "Payment", "namespace": "riskloop.contract",
                         "fields": [{"name": "id", "type": "string"},
                                    {"name": "amount", "type": ["null", "long"], "default": None}]})
payment_breaking = json.dumps({"type": "record", "name": "Payment", "namespace": "riskloop.contract",
                               "fields": [{"name": "id", "type": "int"}]})

# Registration: the repo's text, then the same schema in Java's attribute order and reversed.
step("register_repo", lambda: client(writer).register_schema(tx, Schema(repo_text, "AVRO")))
step("register_java", lambda: client(writer).register_schema(tx, Schema(java_text, "AVRO")))
step("register_reversed", lambda: client(writer).register_schema(tx, Schema(reversed_text, "AVRO")))
step("register_java_normalized", lambda: client(writer).register_schema(tx, Schema(java_text, "AVRO"), normalize_schemas=True))
step("versions_tx", lambda: client(reader).get_versions(tx))
step("lookup_java", lambda: (lambda r: {"id": r.schema_id, "version": r.version, "subject": r.subject})(
    client(reader).lookup_schema(tx, Schema(java_text, "AVRO"))))
step("lookup_java_normalized", lambda: (lambda r: {"id": r.schema_id, "version": r.version})(
    client(reader).lookup_schema(tx, Schema(reversed_text, "AVRO"), normalize_schemas=True)))
step("get_schema_by_id", lambda: json.loads(client(reader).get_schema(out["register_repo"]).schema_str)["name"])
step("get_latest", lambda: (lambda r: {"id": r.schema_id, "version": r.version})(client(reader).get_latest_version(tx)))
step("get_latest_with_metadata_none", lambda: (lambda r: {"id": r.schema_id, "version": r.version})(
    client(reader).get_latest_with_metadata(tx, {})))
step("get_latest_with_metadata_owner", lambda: client(reader).get_latest_with_metadata(tx, {"owner": "risk"}).schema_id)

# Subjects, prefix, schemas, contexts, guid
step("register_other", lambda: client(admin).register_schema(other, Schema(payment_v1, "AVRO")))
step("subjects_prefix", lambda: client(reader).get_subjects(subject_prefix=prefix))
step("subjects_prefix_none", lambda: client(reader).get_subjects(subject_prefix=prefix + ".nothing-here"))
step("subjects_prefix_paged", lambda: client(reader).get_subjects(subject_prefix=prefix, offset=1, limit=1))
raw("schemas_prefix", "GET", "/schemas", reader, params={"subjectPrefix": prefix})
raw("schemas_latest_only", "GET", "/schemas", reader, params={"subjectPrefix": other, "latestOnly": "true"})
step("schema_by_guid", lambda: json.loads(
    client(reader).get_schema_by_guid(out["schemas_prefix"]["body"][0]["guid"]).schema_str)["name"])
raw("ids_by_guid", "GET", f"/schemas/guids/{out['schemas_prefix']['body'][0]['guid']}/ids", reader)
raw("schema_by_unknown_guid", "GET", "/schemas/guids/00000000-0000-8000-8000-000000000000", reader)
step("contexts", lambda: client(reader).get_contexts())
raw("schema_by_id_raw", "GET", f"/schemas/ids/{out['register_repo']}", reader)
step("schema_versions_of_id", lambda: [{"subject": v.subject, "version": v.version}
                                        for v in client(reader).get_schema_versions(out["register_repo"])])
step("subjects_of_id", lambda: client(reader).get_subjects_by_schema_id(out["register_repo"]))

# Compatibility: config and tests
step("set_compat_subject", lambda: client(admin).set_compatibility(other, "FULL"))
step("get_compat_subject", lambda: client(reader).get_compatibility(other))
step("test_compat_v2", lambda: client(reader).test_compatibility(other, Schema(payment_v2, "AVRO")))
step("test_compat_breaking", lambda: client(reader).test_compatibility(other, Schema(payment_breaking, "AVRO")))
step("register_breaking", lambda: client(admin).register_schema(other, Schema(payment_breaking, "AVRO")))
step("register_v2", lambda: client(writer).register_schema(other, Schema(payment_v2, "AVRO")))
step("versions_other", lambda: client(reader).get_versions(other))

# Modes
step("global_mode", lambda: client(reader).get_global_mode())
step("subject_mode_unset", lambda: client(reader).get_mode(other))
step("set_subject_mode_readonly", lambda: client(admin).update_mode(other, "READONLY"))
step("subject_mode_readonly", lambda: client(reader).get_mode(other))
step("register_in_readonly", lambda: client(admin).register_schema(other, Schema(json.dumps(
    {"type": "record", "name": "Payment", "namespace": "riskloop.contract",
     "fields": [{"name": "id", "type": "string"}, {"name": "note", "type": "string", "default": ""},
                {"name": "amount", "type": ["null", "long"], "default": None}]}), "AVRO")))
step("delete_in_readonly", lambda: client(admin).delete_version(other, 1))
step("set_compat_in_readonly", lambda: client(admin).set_compatibility(other, "BACKWARD"))
step("set_subject_mode_bogus", lambda: client(admin).update_mode(other, "SOMETIMES"))
step("delete_subject_mode", lambda: client(admin).delete_mode(other))
step("subject_mode_after_delete", lambda: client(reader).get_mode(other))
step("delete_subject_mode_again", lambda: client(admin).delete_mode(other))

# IMPORT: only on an empty subject (unless force), then ids and versions come from the request.
imported = f"{prefix}.imported-value"
raw("register_with_id_readwrite", "POST", f"/subjects/{imported}/versions", admin,
    json={"schema": payment_v1, "id": 900001, "version": 3})
step("set_import_nonempty", lambda: client(admin).update_mode(tx, "IMPORT"))
step("set_import_empty", lambda: client(admin).update_mode(imported, "IMPORT"))
raw("import_register", "POST", f"/subjects/{imported}/versions", admin,
    json={"schema": payment_v1, "id": 900001, "version": 3})
raw("import_without_id", "POST", f"/subjects/{imported}/versions", admin, json={"schema": payment_v2})
raw("import_conflicting_id", "POST", f"/subjects/{imported}/versions", admin,
    json={"schema": payment_v2, "id": 900001, "version": 4})
step("import_versions", lambda: client(reader).get_versions(imported))
step("import_by_id", lambda: json.loads(client(reader).get_schema(900001).schema_str)["name"])
step("import_back_to_readwrite", lambda: client(admin).update_mode(imported, "READWRITE"))
payment_v3 = json.dumps({"type": "record", "name": "Payment", "namespace": "riskloop.contract",
                         "fields": [{"name": "id", "type": "string"},
                                    {"name": "region", "type": ["null", "string"], "default": None}]})
step("register_after_import", lambda: client(admin).register_schema(imported, Schema(payment_v3, "AVRO")))

# Who may do what: the reader reads; writes need write (register) or admin (the rest).
step("reader_register", lambda: client(reader).register_schema(f"{prefix}.reader-value", Schema(payment_v1, "AVRO")))
step("reader_set_compat", lambda: client(reader).set_compatibility(other, "NONE"))
step("reader_set_global_compat", lambda: client(reader).set_compatibility(None, "NONE"))
step("reader_delete", lambda: client(reader).delete_subject(other))
step("reader_set_mode", lambda: client(reader).update_mode(other, "READONLY"))
step("writer_delete", lambda: client(writer).delete_subject(other))
step("writer_set_compat", lambda: client(writer).set_compatibility(other, "NONE"))
step("anonymous_read", lambda: client().get_subjects(subject_prefix=prefix))
step("anonymous_register", lambda: client().register_schema(f"{prefix}.anon-value", Schema(payment_v1, "AVRO")))
step("wrong_password_read", lambda: client(reader.split(":", 1)[0] + ":not-the-password").get_subjects())
step("unknown_user_read", lambda: client("nobody:whatever").get_subjects())
raw("raw_no_credentials", "GET", "/subjects")
raw("raw_reader_delete", "DELETE", f"/subjects/{other}", reader)

# Deletes by the admin
step("delete_version_1", lambda: client(admin).delete_version(other, 1))
step("delete_subject_other", lambda: client(admin).delete_subject(other))
step("delete_subject_other_permanent", lambda: client(admin).delete_subject(other, permanent=True))
step("subjects_after_delete", lambda: client(reader).get_subjects(subject_prefix=prefix))

json.dump(out, sys.stdout)
