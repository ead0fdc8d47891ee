// The waiters registry on its own: the re-check, the sender filter, the deadline, a caller leaving, MAX_WAITERS and
// shutdown; and that nothing is left registered once a watch is settled.
import t from 'tap'
import { DomainError } from '../../src/domain/errors.js'
import { createWaiters, Hangup } from '../../src/domain/waiting.js'

t.test('a commit between watch() and wait() makes the wait return at once, and leaves nothing registered', async (t) => {
  const waiters = createWaiters(10)
  const watch = waiters.watch('bob')
  waiters.wake(['bob'], 'alice')
  t.equal(await watch.wait(10_000), 'notified')
  t.equal(waiters.held(), 0)
  t.equal(waiters.watching(), 0)
})

t.test('a held watch wakes for its receiver and sender only', async (t) => {
  let wakeups = 0
  const waiters = createWaiters(10, () => { wakeups++ })
  const forAlice = waiters.watch('bob', 'alice')
  const anySender = waiters.watch('bob')
  const other = waiters.watch('eve')
  const outcomes = [forAlice.wait(10_000), anySender.wait(10_000), other.wait(50)]
  t.equal(waiters.held(), 3)
  waiters.wake(['bob'], 'carol')
  t.equal(waiters.held(), 2, 'carol\'s message wakes the watch of any sender only')
  waiters.wake(['bob'], 'alice')
  t.strictSame(await Promise.all(outcomes), ['notified', 'notified', 'timeout'])
  t.equal(wakeups, 2)
  t.equal(waiters.watching(), 0)
})

t.test('an aborted caller and a cancelled watch are forgotten; a feed without senders wakes all of a receiver', async (t) => {
  const waiters = createWaiters(10)
  const hangup = new Hangup()
  const leaving = waiters.watch('bob').wait(10_000, hangup)
  t.equal(waiters.held(), 1)
  hangup.hangUp()
  t.equal(await leaving, 'aborted')
  t.equal(waiters.held(), 0)
  const alreadyGone = new Hangup()
  alreadyGone.hangUp()
  t.equal(await waiters.watch('bob').wait(10_000, alreadyGone), 'aborted')
  const stayed = new Hangup()
  const answered = waiters.watch('bob').wait(10_000, stayed)
  waiters.wake(['bob'])
  t.equal(await answered, 'notified')
  stayed.hangUp()
  t.equal(waiters.held(), 0, 'a hang-up after the answer changes nothing')
  waiters.watch('bob').cancel()
  t.equal(waiters.watching(), 0)
  const held = waiters.watch('bob', 'alice').wait(10_000)
  waiters.wake(['bob'])
  t.equal(await held, 'notified')
  const again = waiters.watch('zoe').wait(10_000)
  waiters.wakeAll()
  t.equal(await again, 'notified')
})

t.test('beyond its maximum it refuses to hold, and close() answers every held watch and every later one', async (t) => {
  const waiters = createWaiters(2)
  const held = [waiters.watch('a').wait(10_000), waiters.watch('b').wait(10_000)]
  const refused = await waiters.watch('c').wait(10_000).then(() => null, (error: unknown) => error)
  t.ok(refused instanceof DomainError && refused.code === 'TOO_MANY_WAITERS', 'TOO_MANY_WAITERS')
  t.equal(waiters.watching(), 2, 'the refused watch is not kept')
  const pending = waiters.watch('d')
  waiters.close()
  t.strictSame(await Promise.all(held), ['closing', 'closing'])
  t.equal(await pending.wait(10_000), 'closing')
  t.equal(waiters.held(), 0)
  t.equal(waiters.watching(), 0)
})
