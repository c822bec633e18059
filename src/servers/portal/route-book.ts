import type { GateServices } from '../gates/index.js';
import { buildOpenApi, type OpenApiOptions, type OpenApiRoute } from '../openapi.js';

/**
 * The portal's registered routes (`'<METHOD> <path>'` to their OpenAPI description) and the OpenAPI document
 * made from them, cached until a route is added or the gated express routes change.
 */
export class RouteBook {
  private readonly routes = new Map<string, OpenApiRoute>();
  private readonly operations = new Set<string>();
  private cache: { key: string; text: string } | undefined;

  constructor(
    private readonly name: string,
    private readonly options: OpenApiOptions | false,
    private readonly gates: GateServices,
  ) {}

  /** Whether `'<METHOD> <path>'` is registered. */
  has(route: string): boolean {
    return this.routes.has(route);
  }

  /** Whether an `operationId` (a key given to `portal.register`) is taken. */
  hasOperation(id: string): boolean {
    return this.operations.has(id);
  }

  /** Record a registered route. */
  add(route: string, openapi: OpenApiRoute): void {
    this.routes.set(route, openapi);
    if (openapi.operationId !== undefined) this.operations.add(openapi.operationId);
    this.cache = undefined;
  }

  /** The OpenAPI document as JSON text, with the gated express routes (`express`) after the endpoints. */
  document(express: readonly OpenApiRoute[]): string {
    // Express routes can be added at any time: the cache holds while the gated ones stay the same.
    const key = JSON.stringify(express.map((r) => [r.method, r.path, r.gate]));
    if (this.cache?.key !== key) {
      const { auth } = this.gates;
      const doc = buildOpenApi(this.name, this.options || {}, [...this.routes.values(), ...express], {
        apiKeyHeader: auth.apiKeyHeader,
        apiKeys: auth.apiKeys.size > 0,
        basic: auth.basic !== undefined,
      });
      this.cache = { key, text: JSON.stringify(doc) };
    }
    return this.cache.text;
  }
}
