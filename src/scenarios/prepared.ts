// broken/prepared: a full registry on the store. Push anything, pull it back byte-identical.
import type { Scenario } from './scenario.js';
import { deleteManifest, getManifest, putManifest } from '../registry/manifests.js';
import { deleteBlob, getBlob } from '../registry/blobs.js';
import { cancelUpload, finishUpload, patchUpload, startUpload, uploadStatus } from '../registry/uploads.js';
import { listReferrers, listTags } from '../registry/discovery.js';

export const preparedScenario: Scenario = {
  name: 'prepared',
  summary: 'A full registry: push any image, index or artifact and pull it back byte-identical.',
  example: 'broken/prepared:mine',
  parameters: [],
  nested: true,
  operations: {
    'manifest.get': getManifest,
    'manifest.head': getManifest,
    'manifest.put': putManifest,
    'manifest.delete': deleteManifest,
    'blob.get': getBlob,
    'blob.head': getBlob,
    'blob.delete': deleteBlob,
    'upload.start': startUpload,
    'upload.status': uploadStatus,
    'upload.patch': patchUpload,
    'upload.finish': finishUpload,
    'upload.cancel': cancelUpload,
    'tags.list': listTags,
    'referrers.list': listReferrers,
  },
};
