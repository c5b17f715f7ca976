// Feeds every message on a subject to a callback until unsubscribed: the stores that follow
// opsdeck.*.<topic> over NATS share this instead of each writing the loop.
import type { MsgHdrs, NatsConnection, Subscription } from 'nats';

export function feed(
  nc: NatsConnection,
  subject: string,
  accept: (data: Uint8Array, subject: string, headers: MsgHdrs | undefined) => void,
): Subscription {
  const sub = nc.subscribe(subject);
  void (async () => {
    for await (const m of sub) accept(m.data, m.subject, m.headers);
  })().catch(() => {});
  return sub;
}
