/**
 * The REST routes of Confluent Schema Registry's API that riskloop's registry serves (the ones the
 * kafkajs client calls, and the everyday rest), mapped onto SchemaRegistryService.
 */
import { Errors } from './errors.js';
import { Router } from './http.js';
import { type SchemaRegistryService, parseVersionRef } from './service.js';

export function createRouter(service: SchemaRegistryService): Router {
  const flag = (q: URLSearchParams, name: string): boolean => q.get(name)?.toLowerCase() === 'true';
  const id = (raw: string | undefined): number => {
    const n = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw Errors.schemaNotFound(`Schema ${raw} not found`);
    return n;
  };
  const p = (params: Record<string, string>, name: string): string => params[name] ?? '';

  return (
    new Router()
      .on('GET', '/', async () => ({}))
      .on('GET', '/schemas/types', async () => ['AVRO'])

      // Schemas by global id
      .on('GET', '/schemas/ids/{id}', async ({ params }) => service.schemaById(id(params.id)))
      .on('GET', '/schemas/ids/{id}/schema', async ({ params }) =>
        JSON.parse((await service.schemaById(id(params.id))).schema),
      )
      .on('GET', '/schemas/ids/{id}/versions', async ({ params }) => service.usesOfId(id(params.id)))
      .on('GET', '/schemas/ids/{id}/subjects', async ({ params }) => [
        ...new Set((await service.usesOfId(id(params.id))).map((u) => u.subject)),
      ])

      // Subjects
      .on('GET', '/subjects', async ({ query }) => service.subjects(flag(query, 'deleted')))
      .on('POST', '/subjects/{subject}', async (req) =>
        service.lookup(p(req.params, 'subject'), await req.body(), flag(req.query, 'deleted')),
      )
      .on('DELETE', '/subjects/{subject}', async ({ params, query }) =>
        service.deleteSubject(p(params, 'subject'), flag(query, 'permanent')),
      )
      .on('GET', '/subjects/{subject}/versions', async ({ params, query }) =>
        service.versions(p(params, 'subject'), flag(query, 'deleted')),
      )
      .on('POST', '/subjects/{subject}/versions', async (req) =>
        service.register(p(req.params, 'subject'), await req.body()),
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
      .on('DELETE', '/subjects/{subject}/versions/{version}', async ({ params, query }) =>
        service.deleteVersion(p(params, 'subject'), parseVersionRef(p(params, 'version')), flag(query, 'permanent')),
      )

      // Compatibility tests
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
      .on('PUT', '/config', async (req) => service.setConfig(null, await req.body()))
      .on('DELETE', '/config', async () => service.deleteConfig(null))
      .on('GET', '/config/{subject}', async ({ params, query }) =>
        service.subjectConfig(p(params, 'subject'), flag(query, 'defaultToGlobal')),
      )
      .on('PUT', '/config/{subject}', async (req) => service.setConfig(p(req.params, 'subject'), await req.body()))
      .on('DELETE', '/config/{subject}', async ({ params }) => service.deleteConfig(p(params, 'subject')))
  );
}
