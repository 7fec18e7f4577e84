/**
 * The REST routes of Confluent Schema Registry's API that riskloop's registry serves (the ones
 * Confluent's clients call, and the everyday rest), mapped onto SchemaRegistryService, each with
 * the least role that may call it (auth.ts) and, for privileged ones, its audit action (audit.ts).
 */
import type { AuditEvent } from './audit.js';
import type { Authenticator } from './auth.js';
import { Errors } from './errors.js';
import { type RouteOptions, Router } from './http.js';
import { type ListOptions, type SchemaRegistryService, parseVersionRef } from './service.js';

export function createRouter(
  service: SchemaRegistryService,
  authenticator: Authenticator,
  audit: (event: AuditEvent) => Promise<void>,
): Router {
  const flag = (q: URLSearchParams, name: string): boolean => q.get(name)?.toLowerCase() === 'true';
  const int = (q: URLSearchParams, name: string, fallback: number): number => {
    const raw = q.get(name);
    if (raw === null || raw === '') return fallback;
    if (!/^-?\d+$/.test(raw)) throw Errors.badRequest(`query parameter ${name} must be an integer`);
    return Number(raw);
  };
  const list = (q: URLSearchParams): ListOptions => ({
    subjectPrefix: q.get('subjectPrefix') ?? '',
    deleted: flag(q, 'deleted'),
    // Confluent's server reads deletedOnly; the Python client sends deleted_only.
    deletedOnly: flag(q, 'deletedOnly') || flag(q, 'deleted_only'),
    offset: int(q, 'offset', 0),
    limit: int(q, 'limit', -1),
  });
  const id = (raw: string | undefined): number => {
    const n = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw Errors.schemaNotFound(`Schema ${raw} not found`);
    return n;
  };
  const p = (params: Record<string, string>, name: string): string => params[name] ?? '';
  const subjectTarget = (params: Record<string, string>): string => p(params, 'subject');
  const write = (action: string): RouteOptions => ({ role: 'write', action, target: subjectTarget });
  const admin = (action: string, global = false): RouteOptions => ({
    role: 'admin',
    action,
    target: global ? () => '(global)' : subjectTarget,
  });

  return (
    new Router({ authenticator, audit })
      .on('GET', '/', async () => ({}))
      .on('GET', '/schemas/types', async () => ['AVRO'])
      // riskloop has one context, the default one.
      .on('GET', '/contexts', async () => ['.'])

      // Schemas by global id, by GUID, and all of them
      .on('GET', '/schemas', async ({ query }) =>
        service.schemas({ ...list(query), latestOnly: flag(query, 'latestOnly') }),
      )
      .on('GET', '/schemas/ids/{id}', async ({ params }) => service.schemaById(id(params.id)))
      .on('GET', '/schemas/ids/{id}/schema', async ({ params }) =>
        JSON.parse((await service.schemaById(id(params.id))).schema),
      )
      .on('GET', '/schemas/ids/{id}/versions', async ({ params }) => service.usesOfId(id(params.id)))
      .on('GET', '/schemas/ids/{id}/subjects', async ({ params }) => [
        ...new Set((await service.usesOfId(id(params.id))).map((u) => u.subject)),
      ])
      .on('GET', '/schemas/guids/{guid}', async ({ params }) => service.schemaByGuid(p(params, 'guid')))
      .on('GET', '/schemas/guids/{guid}/ids', async ({ params }) => service.idsByGuid(p(params, 'guid')))

      // Subjects
      .on('GET', '/subjects', async ({ query }) => service.subjects(list(query)))
      // A lookup only reads, though it is a POST: consumers and the loop call it.
      .on('POST', '/subjects/{subject}', async (req) =>
        service.lookup(p(req.params, 'subject'), await req.body(), flag(req.query, 'deleted'), flag(req.query, 'normalize')),
      )
      .on(
        'DELETE',
        '/subjects/{subject}',
        async ({ params, query, actor }) => service.deleteSubject(p(params, 'subject'), flag(query, 'permanent'), actor),
        admin('schema.delete'),
      )
      .on('GET', '/subjects/{subject}/metadata', async ({ params, query }) => {
        const keys = query.getAll('key');
        const values = query.getAll('value');
        if (keys.length !== values.length) throw Errors.badRequest('key and value parameters must come in pairs');
        const pairs = keys.map((k, i): [string, string] => [k, values[i] as string]);
        return service.latestWithMetadata(p(params, 'subject'), pairs, flag(query, 'deleted'));
      })
      .on('GET', '/subjects/{subject}/versions', async ({ params, query }) =>
        service.versions(p(params, 'subject'), flag(query, 'deleted')),
      )
      .on(
        'POST',
        '/subjects/{subject}/versions',
        async (req) => service.register(p(req.params, 'subject'), await req.body(), flag(req.query, 'normalize'), req.actor),
        write('schema.register'),
      )
      .on('GET', '/subjects/{subject}/versions/{version}', async ({ params, query }) =>
        service.version(p(params, 'subject'), parseVersionRef(p(params, 'version')), flag(query, 'deleted')),
      )
      .on('GET', '/subjects/{subject}/versions/{version}/schema', async ({ params, query }) => {
        const v = await service.version(p(params, 'subject'), parseVersionRef(p(params, 'version')), flag(query, 'deleted'));
        return JSON.parse(v.schema);
      })
      // No schema references are stored, so nothing can refer to a version; the subject must exist.
      .on('GET', '/subjects/{subject}/versions/{version}/referencedby', async ({ params }) => {
        await service.version(p(params, 'subject'), parseVersionRef(p(params, 'version')), true);
        return [];
      })
      .on(
        'DELETE',
        '/subjects/{subject}/versions/{version}',
        async ({ params, query, actor }) =>
          service.deleteVersion(p(params, 'subject'), parseVersionRef(p(params, 'version')), flag(query, 'permanent'), actor),
        admin('schema.delete'),
      )

      // Compatibility tests (read: nothing is written)
      .on('POST', '/compatibility/subjects/{subject}/versions/{version}', async (req) => {
        const ref = parseVersionRef(p(req.params, 'version'));
        const r = await service.testCompatibility(p(req.params, 'subject'), ref, await req.body());
        return flag(req.query, 'verbose') ? { is_compatible: r.compatible, messages: r.messages } : { is_compatible: r.compatible };
      })
      .on('POST', '/compatibility/subjects/{subject}/versions', async (req) => {
        const r = await service.testCompatibility(p(req.params, 'subject'), undefined, await req.body());
        return flag(req.query, 'verbose') ? { is_compatible: r.compatible, messages: r.messages } : { is_compatible: r.compatible };
      })

      // Compatibility configuration
      .on('GET', '/config', async () => service.globalConfig())
      .on('PUT', '/config', async (req) => service.setConfig(null, await req.body(), req.actor), admin('config.update', true))
      .on('DELETE', '/config', async ({ actor }) => service.deleteConfig(null, actor), admin('config.delete', true))
      .on('GET', '/config/{subject}', async ({ params, query }) =>
        service.subjectConfig(p(params, 'subject'), flag(query, 'defaultToGlobal')),
      )
      // write, not admin: the kafkajs client sets a new subject's level right after its first
      // registration; the service lets a non-admin only set a first level, and never NONE.
      .on(
        'PUT',
        '/config/{subject}',
        async (req) => service.setConfig(p(req.params, 'subject'), await req.body(), req.actor, req.role !== 'admin'),
        write('config.update'),
      )
      .on(
        'DELETE',
        '/config/{subject}',
        async ({ params, actor }) => service.deleteConfig(p(params, 'subject'), actor),
        admin('config.delete'),
      )

      // Modes (READWRITE, READONLY, READONLY_OVERRIDE, IMPORT)
      .on('GET', '/mode', async () => service.globalMode())
      .on(
        'PUT',
        '/mode',
        async (req) => service.setMode(null, await req.body(), flag(req.query, 'force'), req.actor),
        admin('mode.update', true),
      )
      .on('DELETE', '/mode', async ({ actor }) => service.deleteMode(null, actor), admin('mode.delete', true))
      .on('GET', '/mode/{subject}', async ({ params, query }) =>
        service.subjectMode(p(params, 'subject'), flag(query, 'defaultToGlobal')),
      )
      .on(
        'PUT',
        '/mode/{subject}',
        async (req) => service.setMode(p(req.params, 'subject'), await req.body(), flag(req.query, 'force'), req.actor),
        admin('mode.update'),
      )
      .on('DELETE', '/mode/{subject}', async ({ params, actor }) => service.deleteMode(p(params, 'subject'), actor), admin('mode.delete'))
  );
}
