// A local HTTP server on 127.0.0.1 that answers like the Hugging Face hub for model and dataset repositories:
//   GET  /api/models/ORG/NAME/revision/REV      {_id, id, sha, siblings[{rfilename}], …}
//   GET  /api/models/ORG/NAME/tree/REV          [{type, path, size, oid, lfs?}] (every file, at any depth)
//   HEAD|GET /ORG/NAME/resolve/REV/PATH         the bytes (Range honoured), with X-Repo-Commit, ETag
//   … and the same under /api/datasets/ and /datasets/ORG/NAME/resolve/ for `type: 'dataset'` repos
//                                               (git blob sha1) and, for LFS files, X-Linked-Etag
//                                               (sha256) and X-Linked-Size
// REV is a branch/tag of the repo or its commit. With `token` set, requests without
// "Authorization: Bearer <token>" get 401, as a gated repository does. A hostile hub: `anyRevision`
// answers every revision with the commit, `tree` rewrites the listing, `body` the bytes served.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  repo: string;
  /** Default 'model'. */
  type?: 'model' | 'dataset';
  commit: string;
  /** Branches and tags → the commit. */
  refs: Record<string, string>;
  files: Record<string, { data: Buffer; lfs?: boolean }>;
}

export interface FakeHub {
  url: string;
  requests: { method: string; url: string; authorization: string | undefined }[];
  close(): Promise<void>;
}

const gitOid = (data: Buffer) => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The etag huggingface_hub stores a file's blob under. */
export const blobEtag = (f: { data: Buffer; lfs?: boolean }) => (f.lfs ? sha256(f.data) : gitOid(f.data));

export interface TreeEntry {
  type: string;
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number; pointerSize: number };
}

export interface FakeHubOptions {
  token?: string;
  anyRevision?: boolean;
  tree?: (repo: FakeRepo, entries: TreeEntry[]) => TreeEntry[];
  body?: (repo: FakeRepo, path: string, data: Buffer) => Buffer;
}

export async function startFakeHub(repos: FakeRepo[], opts: FakeHubOptions = {}): Promise<FakeHub> {
  const requests: FakeHub['requests'] = [];
  const byName = new Map(repos.map((r) => [`${r.type ?? 'model'}:${r.repo}`, r]));
  const commitOf = (r: FakeRepo, rev: string) => (rev === r.commit || opts.anyRevision ? r.commit : r.refs[decodeURIComponent(rev)]);
  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) {
      json(res, 401, { error: 'Access to this model is restricted. You must have access to it and be authenticated.' }, { 'X-Error-Code': 'GatedRepo' });
      return;
    }
    const u = new URL(req.url ?? '/', 'http://x');
    let m = /^\/api\/(models|datasets)\/([^/]+\/[^/]+)\/(revision|tree)\/([^/]+)\/?$/.exec(u.pathname);
    if (m) {
      const r = byName.get(`${m[1] === 'datasets' ? 'dataset' : 'model'}:${m[2]}`);
      m.splice(1, 1);
      const commit = r && commitOf(r, m[3]!);
      if (!r || !commit) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepositoryNotFound' });
      if (m[2] === 'revision') {
        return json(res, 200, {
          _id: 'fake',
          id: r.repo,
          sha: commit,
          private: false,
          downloads: 0,
          likes: 0,
          lastModified: '2026-01-01T00:00:00.000Z',
          siblings: Object.keys(r.files).map((rfilename) => ({ rfilename })),
        });
      }
      const entries: TreeEntry[] = Object.entries(r.files).map(([p, f]) => ({
        type: 'file',
        path: p,
        size: f.lfs ? 134 : f.data.length,
        oid: f.lfs ? gitOid(Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.data)}\nsize ${f.data.length}\n`)) : gitOid(f.data),
        ...(f.lfs ? { lfs: { oid: sha256(f.data), size: f.data.length, pointerSize: 134 } } : {}),
      }));
      return json(res, 200, opts.tree ? opts.tree(r, entries) : entries);
    }
    m = /^\/(datasets\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(u.pathname);
    if (m) {
      const r = byName.get(`${m[1] ? 'dataset' : 'model'}:${m[2]}`);
      m.splice(1, 1);
      const commit = r && commitOf(r, m[2]!);
      if (!r || !commit) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepositoryNotFound' });
      const f = r.files[decodeURIComponent(m[3]!)];
      if (!f) return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': commit });
      const headers: Record<string, string> = {
        'X-Repo-Commit': commit,
        ETag: `"${f.lfs ? sha256(f.data) : gitOid(f.data)}"`,
        'Accept-Ranges': 'bytes',
        'Content-Type': 'application/octet-stream',
        ...(f.lfs ? { 'X-Linked-Etag': `"${sha256(f.data)}"`, 'X-Linked-Size': String(f.data.length) } : {}),
      };
      const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      const served = opts.body ? opts.body(r, decodeURIComponent(m[3]!), f.data) : f.data;
      let body = served;
      let status = 200;
      if (range) {
        const start = Number(range[1]);
        const end = range[2] ? Math.min(Number(range[2]), served.length - 1) : served.length - 1;
        body = served.subarray(start, end + 1);
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${served.length}`;
      }
      headers['Content-Length'] = String(body.length);
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    json(res, 404, { error: `no route ${u.pathname}` });
  };
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
