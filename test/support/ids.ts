import { randomUUID } from 'node:crypto';
import {
  detectIdentity,
  idHidesIdentity,
} from '../../src/logging/core/sensitive-values.js';

/**
 * A random UUID that the identity detectors take for an id. About one random UUID in 70 holds,
 * by chance, the shape and checksum of an identity number (a PAN, an Aadhaar or card number in a
 * run of its digits) and is refused as one (docs/metadata-policy.md gives the rate); tests about
 * something else draw their ids here so that they cannot fail one run in 70.
 */
export function plainUuid(): string {
  for (;;) {
    const id = randomUUID();
    if (!idHidesIdentity(id) && detectIdentity(`doc:${id}`) === null) return id;
  }
}
