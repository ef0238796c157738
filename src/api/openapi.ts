import { z } from 'zod';
import { responseSchemas } from './response-schemas.ts';
import type { Access, Route } from './route.ts';

type JsonSchema = Record<string, unknown>;

/**
 * The OpenAPI 3.1 document of the routes given. Request bodies and query parameters are derived from the very zod
 * schemas the server validates with (their input side), so the document cannot drift from what is accepted.
 */
export function buildOpenApiDocument(routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const item = (paths[route.path] ??= {});
    item[route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Spillway API',
      version,
      description:
        'Hybrid-cloud bursting controller. Bearer tokens with roles admin, submitter, finance and agent; agents ' +
        'register with a registration token or a bootstrap credential and then use their own token.',
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: Object.fromEntries(
        Object.entries(responseSchemas).map(([name, schema]) => [name, toSchema(schema, 'output')]),
      ),
    },
  };
}

function operation(route: Route): Record<string, unknown> {
  const op: Record<string, unknown> = {
    operationId: operationId(route),
    summary: route.summary,
    description: `Access: ${describeAccess(route.access)}.`,
    security: route.access.kind === 'public' ? [] : [{ bearer: [] }],
  };
  const parameters = [...pathParameters(route.path), ...queryParameters(route.query)];
  if (parameters.length > 0) op.parameters = parameters;
  if (route.body) {
    op.requestBody = {
      required: !route.body.safeParse(undefined).success,
      content: { 'application/json': { schema: toSchema(route.body, 'input') } },
    };
  }
  const { response } = route;
  const content = response.schema
    ? { [response.contentType ?? 'application/json']: { schema: { $ref: `#/components/schemas/${response.schema}` } } }
    : {
        [response.contentType ?? 'text/plain']: {
          schema: { type: response.contentType === 'application/json' ? 'object' : 'string' },
        },
      };
  const responses: Record<string, unknown> = {
    [String(response.status)]: { description: response.description, content },
  };
  for (const [status, description] of errorStatuses(route)) {
    responses[status] = {
      description,
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    };
  }
  op.responses = responses;
  return op;
}

function errorStatuses(route: Route): [string, string][] {
  const statuses: [string, string][] = [];
  if (route.body || route.query) statuses.push(['400', 'A field is invalid; `field` names it.']);
  if (route.access.kind !== 'public') {
    statuses.push(['401', 'No token, or an unknown or revoked one.'], ['403', 'The token may not make this call.']);
  }
  if (route.path.includes('{')) statuses.push(['404', 'No such resource.']);
  if (route.method !== 'GET') statuses.push(['409', 'The request conflicts with the current state.']);
  if (route.body) {
    statuses.push(['413', 'The body is over the size limit.'], ['415', 'The body is not application/json.']);
  }
  return statuses;
}

function pathParameters(path: string): Record<string, unknown>[] {
  return [...path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
}

function queryParameters(query: z.ZodType | undefined): Record<string, unknown>[] {
  if (!query) return [];
  const schema = toSchema(query, 'input');
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: property,
  }));
}

function toSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function operationId(route: Route): string {
  const words = route.path
    .split('/')
    .filter((part) => part && part !== 'v1')
    .map((part) =>
      part.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase()),
    );
  return [route.method.toLowerCase(), ...words.map((w) => w.charAt(0).toUpperCase() + w.slice(1))].join('');
}

function describeAccess(access: Access): string {
  switch (access.kind) {
    case 'public':
      return 'anyone, no token';
    case 'roles':
      return `roles ${access.roles.join(', ')}`;
    case 'own-agent':
      return 'the agent token issued to agent {id}';
    case 'register':
      return 'an unbound agent (registration) token, or a bootstrap credential';
  }
}
