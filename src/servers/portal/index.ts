export { ServicePortal } from './service-portal.js';
export type { CloseOptions, EndpointConfig, EndpointHandler, EndpointMethod, PortalHealthOptions, PortalOptions, RunOptions } from './options.js';
