/** Cron schedulers on a real master: requests at the pattern's times, with reason and properties; none after stop. */
import { describe, expect, it } from 'vitest';
import { BuildFactory, ShellCommand, cronScheduler } from '../../index.ts';
import { testDatabases } from '../helpers/databases.ts';
import { api, startTestMaster, waitFor } from '../helpers/harness.ts';

describe('cron scheduler', () => {
  it('requests builds at the times of its pattern, and none once the master stopped', async () => {
    const db = testDatabases()[0] as { create(): Promise<string> };
    const url = await db.create();
    const master = await startTestMaster(
      {
        builders: [{ name: 'nightly', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: ['true'] })) }],
        // Every second (six fields: seconds first), read in a zone other than the machine's.
        schedulers: [
          cronScheduler({
            name: 'every-second',
            builderNames: ['nightly'],
            cron: '* * * * * *',
            timezone: 'Asia/Kolkata',
            properties: { branch: 'main' },
          }),
        ],
      },
      url,
    );
    const client = api(master);
    const requests = await waitFor('two requests from the cron scheduler', async () => {
      const rows = (await client.get('/buildrequests?order=buildrequestid')).body.buildrequests as {
        submitted_at: number;
        reason: string;
        buildrequestid: number;
      }[];
      return rows.length >= 2 && rows;
    });
    expect(requests[0]?.reason).toBe("The Cron scheduler 'every-second' triggered this build");
    await master.stop();

    const again = await startTestMaster(
      { builders: [{ name: 'nightly', factory: new BuildFactory().addStep(new ShellCommand({ name: 's', command: ['true'] })) }] },
      url,
    );
    const count = async () => (await api(again).get('/buildrequests')).body.meta.total as number;
    const stopped = await count();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await count()).toBe(stopped);
    const props = (await api(again).get(`/buildrequests/${requests[0]?.buildrequestid}`)).body.buildrequests[0].properties;
    expect(props).toMatchObject({ branch: 'main' });
    await again.stop();
  });
});
