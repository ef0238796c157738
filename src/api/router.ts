import { HttpError } from './errors.ts';

/** What the router needs of a route: a method and a path template with `{name}` parameters. */
export interface Routable {
  readonly method: string;
  /** `/v1/agents/{id}/tasks/{taskId}/report`. */
  readonly path: string;
}

export interface RouteMatch<R extends Routable> {
  readonly route: R;
  readonly params: Readonly<Record<string, string>>;
}

interface Compiled<R extends Routable> {
  readonly route: R;
  readonly segments: readonly Segment[];
  /** How many segments are literal: `/v1/agents/register` beats `/v1/agents/{id}` when both match. */
  readonly literals: number;
}

type Segment = { readonly literal: string } | { readonly param: string };

/**
 * Matches a method and a path to one route. Throws HttpError 404 when no template matches the path, and 405 with an
 * `Allow` header when templates match but none takes the method.
 */
export class Router<R extends Routable> {
  readonly #routes: Compiled<R>[] = [];

  constructor(routes: readonly R[]) {
    const seen = new Set<string>();
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      if (seen.has(key)) throw new Error(`registering routes: ${key} is defined twice`);
      seen.add(key);
      const segments = splitPath(route.path).map((part): Segment => {
        const param = /^\{([A-Za-z][A-Za-z0-9]*)\}$/.exec(part);
        return param?.[1] ? { param: param[1] } : { literal: part };
      });
      this.#routes.push({ route, segments, literals: segments.filter((s) => 'literal' in s).length });
    }
  }

  /** `pathname` is the raw path of the URL (percent-encoded); parameters come back decoded. */
  match(method: string, pathname: string): RouteMatch<R> {
    const parts = splitPath(pathname);
    const candidates: { compiled: Compiled<R>; params: Record<string, string> }[] = [];
    for (const compiled of this.#routes) {
      const params = matchSegments(compiled.segments, parts);
      if (params) candidates.push({ compiled, params });
    }
    if (candidates.length === 0) throw new HttpError(404, 'not_found', `finding ${pathname}: no such route`);
    const withMethod = candidates
      .filter((c) => c.compiled.route.method === method)
      .sort((a, b) => b.compiled.literals - a.compiled.literals);
    const best = withMethod[0];
    if (!best) {
      const allowed = [...new Set(candidates.map((c) => c.compiled.route.method))].sort();
      throw new HttpError(
        405,
        'method_not_allowed',
        `calling ${method} ${pathname}: allowed methods are ${allowed.join(', ')}`,
        {
          allow: allowed.join(', '),
        },
      );
    }
    return { route: best.compiled.route, params: best.params };
  }
}

function splitPath(path: string): string[] {
  return path.split('/').slice(1);
}

function matchSegments(segments: readonly Segment[], parts: readonly string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i += 1) {
    const segment = segments[i];
    const part = parts[i] ?? '';
    if (!segment) return undefined;
    if ('literal' in segment) {
      if (segment.literal !== part) return undefined;
    } else {
      const value = decodeSegment(part);
      if (value === undefined || value === '') return undefined;
      params[segment.param] = value;
    }
  }
  return params;
}

function decodeSegment(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
