/**
 * Errors as Confluent Schema Registry reports them: an HTTP status plus a JSON body
 * `{error_code, message}`. Clients branch on the status (the kafkajs client treats 404 from
 * GET /config/{subject} as "first registration") and people read error_code, so both follow
 * Confluent's numbering (io.confluent.kafka.schemaregistry.rest.exceptions.Errors).
 */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
    /** Extra response headers (WWW-Authenticate on 401). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RegistryError';
  }

  toJSON(): { error_code: number; message: string } {
    return { error_code: this.errorCode, message: this.message };
  }
}

export const Errors = {
  subjectNotFound: (subject: string) => new RegistryError(404, 40401, `Subject '${subject}' not found.`),
  versionNotFound: (subject: string, version: number) =>
    new RegistryError(404, 40402, `Version ${version} not found for subject '${subject}'.`),
  schemaNotFound: (detail = 'Schema not found') => new RegistryError(404, 40403, detail),
  subjectSoftDeleted: (subject: string) =>
    new RegistryError(
      404,
      40404,
      `Subject '${subject}' was soft deleted. Set permanent=true to delete permanently`,
    ),
  subjectNotSoftDeleted: (subject: string) =>
    new RegistryError(
      404,
      40405,
      `Subject '${subject}' was not deleted first before being permanently deleted`,
    ),
  versionSoftDeleted: (subject: string, version: number) =>
    new RegistryError(
      404,
      40406,
      `Subject '${subject}' Version ${version} was soft deleted. Set permanent=true to delete permanently`,
    ),
  versionNotSoftDeleted: (subject: string, version: number) =>
    new RegistryError(
      404,
      40407,
      `Subject '${subject}' Version ${version} was not deleted first before being permanently deleted`,
    ),
  subjectConfigNotFound: (subject: string) =>
    new RegistryError(404, 40408, `Subject '${subject}' does not have subject-level compatibility configured`),
  subjectModeNotFound: (subject: string) =>
    new RegistryError(404, 40409, `Subject '${subject}' does not have subject-level mode configured`),
  // Confluent answered error_code 409 in older releases, 40901 since (INCOMPATIBLE_SCHEMA_ERROR_CODE).
  incompatibleSchema: (message: string) => new RegistryError(409, 40901, message),
  invalidSchema: (message: string) => new RegistryError(422, 42201, message),
  invalidVersion: (version: string) =>
    new RegistryError(
      422,
      42202,
      `The specified version '${version}' is not a valid version id. ` +
        'Allowed values are between [1, 2^31-1] and the string "latest"',
    ),
  invalidCompatibilityLevel: (level: unknown) =>
    new RegistryError(
      422,
      42203,
      `Invalid compatibility level ${JSON.stringify(level)}. Valid values are none, backward, forward, full, ` +
        'backward_transitive, forward_transitive, and full_transitive',
    ),
  invalidMode: (mode: unknown) =>
    new RegistryError(
      422,
      42204,
      `Invalid mode ${JSON.stringify(mode)}. Valid values are READWRITE, READONLY, READONLY_OVERRIDE, IMPORT`,
    ),
  operationNotPermitted: (message: string) => new RegistryError(422, 42205, message),
  idConflict: (message: string) => new RegistryError(422, 42207, message),
  unprocessable: (message: string) => new RegistryError(422, 422, message),
  storeError: (message: string) => new RegistryError(500, 50001, `Error in the backend data store: ${message}`),
  storeTimeout: (message: string) => new RegistryError(500, 50002, `Operation timed out: ${message}`),
  // Confluent's security plugin numbers these 40101 / 40301; the texts name no secret.
  unauthorized: () =>
    new RegistryError(401, 40101, 'Unauthorized: valid basic-auth credentials are required', {
      'www-authenticate': 'Basic realm="riskloop-schema-registry", charset="UTF-8"',
    }),
  forbidden: (principal: string, needed: string) =>
    new RegistryError(403, 40301, `User '${principal}' is not authorized for this operation (needs the ${needed} role)`),
  // The generic ones below mirror what Confluent's Jersey layer answers for routing and parsing problems.
  badRequest: (message: string) => new RegistryError(400, 400, message),
  routeNotFound: () => new RegistryError(404, 404, 'HTTP 404 Not Found'),
  methodNotAllowed: () => new RegistryError(405, 405, 'HTTP 405 Method Not Allowed'),
  unsupportedMediaType: (type: string) => new RegistryError(415, 415, `HTTP 415 Unsupported Media Type: ${type}`),
} as const;
