import type { DataSource, Repository } from 'typeorm';
import type { AgentRow } from './entities.ts';
import { rawTime, type RawRow } from './raw-collection-query.ts';
import { transaction } from './transaction.ts';

interface PendingConnect {
  params: [string, string, number, number];
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class AgentsRepo {
  private readonly repo: Repository<AgentRow>;
  constructor(private readonly source: DataSource) {
    this.repo = source.getRepository<AgentRow>('Agent');
  }

  /** Connects waiting for the next write (see connected()). */
  private pending: PendingConnect[] = [];

  /**
   * Records a connection: one upsert, not a read then a save through TypeORM's entity machinery.
   * The connects that arrive in one turn of the event loop are written together, in one transaction
   * (setImmediate): 10 000 agents connecting at once made 10 000 SQLite commits, now a few dozen.
   * Each caller's promise settles with its own row; if the batch fails, each row is tried alone, so
   * one bad row fails only its own caller.
   */
  connected(name: string, info: Record<string, unknown>, masterid: number, now: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ params: [name, JSON.stringify(info), masterid, now], resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.writeConnects());
    });
  }

  private get upsert(): string {
    const p = this.source.options.type === 'postgres' ? ['$1', '$2', '$3', '$4'] : ['?', '?', '?', '?'];
    return `INSERT INTO "agents" ("name", "info", "connected_to_masterid", "last_connected_at") VALUES (${p.join(', ')})
       ON CONFLICT ("name") DO UPDATE SET "info" = excluded."info", "connected_to_masterid" = excluded."connected_to_masterid",
         "last_connected_at" = excluded."last_connected_at"`;
  }

  private async writeConnects(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    const sql = this.upsert;
    if (batch.length > 1) {
      try {
        await transaction(this.source, async (em) => {
          for (const c of batch) await em.query(sql, c.params);
        });
        for (const c of batch) c.resolve();
        return;
      } catch {
        // Each alone below: the caller whose row fails hears its own error.
      }
    }
    for (const c of batch) {
      try {
        await this.source.query(sql, c.params);
        c.resolve();
      } catch (e) {
        c.reject(e);
      }
    }
  }

  async disconnected(name: string): Promise<void> {
    await this.repo.update({ name }, { connected_to_masterid: null });
  }

  /** At start-up nothing is connected to this master yet, whatever an earlier run left. */
  async clearMaster(masterid: number): Promise<void> {
    await this.repo.update({ connected_to_masterid: masterid }, { connected_to_masterid: null });
  }

  list(): Promise<AgentRow[]> {
    return this.repo.find({ order: { id: 'ASC' } });
  }

  /** Each stored agent's id and last connection (epoch ms), by name: what `GET /agents` shows of the database. */
  async stored(): Promise<Map<string, { id: number; last_connected_at: number | null }>> {
    const rows = (await this.source.query('SELECT "id", "name", "last_connected_at" FROM "agents"')) as RawRow[];
    return new Map(rows.map((r) => [String(r.name), { id: Number(r.id), last_connected_at: rawTime(r.last_connected_at) }]));
  }
}
