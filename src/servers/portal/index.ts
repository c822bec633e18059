export { ServicePortal } from './service-portal.js';
export type {
  CloseOptions,
  EndpointConfig,
  EndpointHandler,
  EndpointMethod,
  PortalHealthOptions,
  PortalOptions,
  ProbesOptions,
  RunOptions,
} from './options.js';
export type { OverloadMeasures, OverloadOptions } from './overload.js';
export { defineEndpoint, isEndpointDefinition } from './define-endpoint.js';
export type { AnyEndpointDefinition, EndpointDefinition, EndpointDefinitionConfig } from './define-endpoint.js';
export type { RouteDefinitions } from './register.js';
export type { DiscoveredEndpoint } from './discover.js';
export type { InjectOptions, InjectResponse } from './inject.js';
export { UNMATCHED_ROUTE } from './metrics.js';
export type { JobCounts, MetricsOptions, TrackableQueue } from './metrics.js';
export type { TracingOptions } from './trace.js';
