import type { DataSource, Repository } from 'typeorm';
import type { ArtifactRow } from './entities.ts';
import { insertedId } from './inserted-id.ts';

/** A build's artifacts (files its upload steps kept): listed and served by master/api/artifacts.ts. */
export class ArtifactsRepo {
  private readonly repo: Repository<ArtifactRow>;
  constructor(source: DataSource) {
    this.repo = source.getRepository<ArtifactRow>('Artifact');
  }

  async create(values: Omit<ArtifactRow, 'id'>): Promise<ArtifactRow> {
    const result = await this.repo.insert({ ...values });
    return { ...values, id: insertedId(result) };
  }

  /** The build's artifacts, oldest first. */
  ofBuild(buildid: number): Promise<ArtifactRow[]> {
    return this.repo.find({ where: { buildid }, order: { id: 'ASC' } });
  }

  async byName(buildid: number, name: string): Promise<ArtifactRow | null> {
    return this.repo.findOneBy({ buildid, name });
  }

  async deleteOne(id: number): Promise<void> {
    await this.repo.delete({ id });
  }

  async deleteOfBuild(buildid: number): Promise<void> {
    await this.repo.delete({ buildid });
  }
}
