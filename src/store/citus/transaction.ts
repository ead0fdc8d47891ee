// Citus's statements for one transaction (a TxStatements of postgres/tx-statements.ts), chosen as it goes: the plain
// ones on one shard's own tables while every receiver named is of the shard the transaction holds (shards.ts), else
// Citus's shapes on the distributed tables (statements.ts), from then on.
import { groupBy } from '../../lib/group-by.js'
import type { Sql } from '../postgres/statements.js'
import { ackArrays, plainStatements, receiversOf, rowsOf, type TxStatements } from '../postgres/tx-statements.js'
import type { Held } from './shards.js'
import { CITUS, CITUS_SQL } from './statements.js'

/**
 * The shard of each receiver (placement.ts), by which the transaction cuts the statements that must be one task; and
 * `direct`, the shards the transaction holds (one shard's tables, or a node's shards), when it holds some.
 */
export interface CitusShards { shardOf (receiverUid: string): string, direct?: Held | undefined }

/**
 * With Citus's shapes, the statements that insert rows take Citus's shapes (CITUS, CITUS_SQL.removeAckedOnCitus), so
 * that a transaction whose receivers share one shard sends each statement to that shard as one task, and the write
 * goes as a statement per part (Citus runs a CTE that writes as a subplan of its own): one to three round trips more.
 * With `direct`, the plain statements on the held shards' tables instead, as long as every receiver the transaction
 * names is of a shard it holds.
 */
export function createCitusStatements ({ shardOf, direct: held }: CitusShards): TxStatements {
  // The shards held, until a statement names a receiver of another: from then on Citus's shapes on the distributed
  // tables, for the rest of the transaction (what went to the shard's tables before stays right: its receivers are
  // the shard's, and the distributed tables are those same shards).
  let direct = held
  /** The shapes of a statement naming these receivers: the plain ones (on the shard's tables) or Citus's. */
  const shapesFor = (receiverUids: Iterable<string>): 'plain' | 'citus' => {
    if (direct !== undefined) {
      for (const receiverUid of receiverUids) {
        if (!direct.holds(shardOf(receiverUid))) {
          direct = undefined
          break
        }
      }
    }
    return direct === undefined ? 'citus' : 'plain'
  }
  const named = (sql: Sql): Sql => direct === undefined ? sql : direct.on(sql)
  const plain = plainStatements(named)
  return {
    on (sql, receiverUids) {
      shapesFor(receiverUids)
      return named(sql)
    },
    lockReceivers: (receiverUids) => shapesFor(receiverUids) === 'plain' ? plain.lockReceivers(receiverUids) : CITUS.lockReceivers(receiverUids),
    removeAcked (acks, now, tombstoneUntil) {
      if (shapesFor(acks.map((ack) => ack.receiverUid)) === 'plain') return plain.removeAcked(acks, now, tombstoneUntil)
      // One statement per shard: over one shard Citus runs it as one task, over several it plans its parts one after
      // the other through intermediate results, far dearer (measured: docs/postgresql-and-citus.md#scaling-out-citus).
      const parts = [...groupBy(acks, (ack) => shardOf(ack.receiverUid)).values()]
      return { statements: parts.map((part) => ({ sql: CITUS_SQL.removeAckedOnCitus, values: [...ackArrays(part), now] })), returnsTombstones: true }
    },
    // Withdrawals are sent at once: a transaction may leave its shard's tables for Citus's shapes before its write-back.
    defersWithdrawals: false,
    // EVENTS=on is refused on Citus (app.ts); were it not, its write-back's shapes would have to carry them.
    carriesEvents: false,
    writeBack: (unsent) => shapesFor(receiversOf(unsent)) === 'plain' ? plain.writeBack(unsent) : CITUS.writeBack(rowsOf(unsent)),
    withdraw (withdrawals, now, tombstoneUntil) {
      if (shapesFor(withdrawals.map(({ message }) => message.receiverUid)) === 'plain') return plain.withdraw(withdrawals, now, tombstoneUntil)
      return {
        statement: { sql: CITUS_SQL.withdrawOnCitus, values: [withdrawals.map(({ message }) => message.receiverUid), withdrawals.map(({ message }) => message.seq)] },
        tombstones: (deleted) => tombstoneUntil === null ? undefined : CITUS.withdrawnTombstones(deleted, withdrawals, now, tombstoneUntil)
      }
    }
  }
}
