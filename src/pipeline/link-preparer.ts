import { ScanError } from '../errors.js';
import type { ScanItem } from '../jobs/job-schema.js';
import type { ItemPreparer, PreparedItem } from './item-preparer.js';

/** What link signal types read: the link as given and where it leads. */
export interface LinkSubject {
  input: string;
  /** Canonical form of the input URL. */
  canonical: string;
  scheme: string;
  host: string;
}

/** Prepares link items: parses and canonicalizes the URL once for every link signal type. */
export class LinkPreparer implements ItemPreparer<LinkSubject> {
  readonly kind = 'link' as const;

  async prepare(item: ScanItem): Promise<PreparedItem<LinkSubject>> {
    if (typeof item !== 'string') throw new ScanError('unsupported_item', 'link preparer got an image item');
    let url: URL;
    try {
      url = new URL(item.trim());
    } catch {
      throw new ScanError('invalid_url', `cannot parse ${JSON.stringify(item.slice(0, 200))}`);
    }
    const subject: LinkSubject = { input: item, canonical: url.href, scheme: url.protocol.replace(/:$/, ''), host: url.hostname };
    return { subject, details: { canonical: subject.canonical, host: subject.host } };
  }
}
