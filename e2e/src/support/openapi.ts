import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ApiResponse } from './api.js';

// ajv-formats is CommonJS: its default export is the plugin.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

type Json = Record<string, any>;

/** `GET /v1/tasks/{id}` as the document keys it. */
export const operationKey = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;

/**
 * Checks real responses against an OpenAPI 3.1 document with a JSON Schema 2020-12 validator, and
 * records which operations were seen answering a success and an error.
 */
export class OpenApiChecker {
  private readonly ajv: Ajv2020;
  readonly seen = new Map<string, Set<number>>();

  constructor(readonly document: Json) {
    // strict: false because the document, added whole so that its $refs resolve, has OpenAPI fields beside its schemas.
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(document, 'openapi');
  }

  /** Operations in the document, as `METHOD /path/{param}`. */
  operations(): string[] {
    return Object.entries(this.document['paths'] as Record<string, Json>).flatMap(([path, item]) => Object.keys(item).map((m) => operationKey(m, path)));
  }

  /**
   * Fails (throws) unless the document has this status for the operation and the body validates
   * against its schema.
   */
  check(method: string, path: string, res: ApiResponse, contentType = 'application/json'): void {
    const key = operationKey(method, path);
    const responses = this.document['paths']?.[path]?.[method.toLowerCase()]?.['responses'] as Json | undefined;
    if (!responses) throw new Error(`${key} is not in the OpenAPI document`);
    const documented = responses[String(res.status)] as Json | undefined;
    if (!documented) throw new Error(`${key} answered ${res.status}, which the document does not list (it lists ${Object.keys(responses).join(', ')}): ${res.text.slice(0, 300)}`);
    const content = documented['content'] as Json | undefined;
    if (!content) {
      if (res.text !== '') throw new Error(`${key} ${res.status} is documented without a body but answered ${res.text.slice(0, 200)}`);
    } else {
      if (!content[contentType]) throw new Error(`${key} ${res.status} is not documented as ${contentType}`);
      const pointer = ['paths', path, method.toLowerCase(), 'responses', String(res.status), 'content', contentType, 'schema']
        .map((s) => encodeURIComponent(s.replaceAll('~', '~0').replaceAll('/', '~1')))
        .join('/');
      const validate = this.ajv.getSchema(`openapi#/${pointer}`);
      if (!validate) throw new Error(`no schema at ${pointer}`);
      const body = contentType === 'application/json' ? res.body : res.text;
      if (!validate(body)) {
        throw new Error(`${key} ${res.status} does not match the document: ${this.ajv.errorsText(validate.errors, { separator: '; ' })}\n${res.text.slice(0, 600)}`);
      }
    }
    const statuses = this.seen.get(key) ?? new Set<number>();
    statuses.add(res.status);
    this.seen.set(key, statuses);
  }
}

/**
 * The (method, path) pairs of Fastify's `printRoutes({commonPrefix: false})` tree, in the
 * document's path syntax; HEAD, which Fastify adds to every GET, is left out.
 */
export function routesOfTree(tree: string): string[] {
  const stack: string[] = [];
  const routes: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)(?:├── |└── )(\S+)(?: \(([^)]*)\))?$/u.exec(line.trimEnd());
    if (!match) continue;
    const depth = [...match[1]!].length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join('').replaceAll(/:(\w+)/g, '{$1}');
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '' && m !== 'HEAD')) routes.push(operationKey(method, path));
  }
  return routes;
}
