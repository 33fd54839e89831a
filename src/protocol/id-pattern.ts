/**
 * The one shape of a sandbox or task id, for every place that checks one (server, CLI, web
 * app): 1–64 letters, digits, `_` and `-`, starting with a letter or digit — so an id never
 * reads as an option (`-rf`) where it reaches a command line or a file name. No imports: the
 * web app bundles it.
 */
export const ENTITY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export const ENTITY_ID_RULE =
  "must be 1-64 letters, digits, '_' or '-', starting with a letter or digit";

export const isEntityId = (value: string): boolean => ENTITY_ID_PATTERN.test(value);
