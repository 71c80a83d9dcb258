import { accept } from './accept.js';
import { authenticatedUser } from './authenticated-user.js';
import { claim } from './claim.js';
import type { Criterion } from './criterion.js';
import { date } from './date.js';
import { dayOfWeek } from './day-of-week.js';
import { domain } from './domain.js';
import { email } from './email.js';
import { groups } from './groups.js';
import { header } from './header.js';
import { httpMethod } from './http-method.js';
import { httpPath } from './http-path.js';
import { reject } from './reject.js';
import { sessionAge } from './session-age.js';
import { sourceIp } from './source-ip.js';
import { tailnetNode } from './tailnet-node.js';
import { tailnetTags } from './tailnet-tags.js';
import { tailnetUser } from './tailnet-user.js';
import { timeOfDay } from './time-of-day.js';
import { user } from './user.js';

/** Every criterion of the policy language, in documentation order. */
export const CRITERIA: readonly Criterion[] = Object.freeze([
  accept,
  reject,
  authenticatedUser,
  user,
  email,
  domain,
  groups,
  claim,
  httpMethod,
  httpPath,
  header,
  sourceIp,
  timeOfDay,
  dayOfWeek,
  date,
  sessionAge,
  tailnetUser,
  tailnetNode,
  tailnetTags,
]);

export const CRITERIA_BY_NAME: ReadonlyMap<string, Criterion> = new Map(CRITERIA.map((c) => [c.name, c]));
