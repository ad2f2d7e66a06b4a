// EC2 RegisterImage, DescribeImages and DeregisterImage on the query protocol, answered in EC2's XML.
import type { EmuResponse } from './http.ts';
import type { EbsModel } from './model.ts';
import { Ec2Error, XMLNS, esc, filters, list, xml } from './ec2-wire.ts';
import { globMatch } from './glob.ts';
import { ImageError, imagesOf, type ImageView, type RegisterImageInput } from './images.ts';

type Params = Map<string, string>;

function bool(v: string | undefined): boolean | undefined {
  return v === undefined ? undefined : v.toLowerCase() === 'true';
}

/** Indices N present as `Prefix.N.…`, ascending. */
function indices(p: Params, prefix: string): number[] {
  const out = new Set<number>();
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)\\.`);
  for (const k of p.keys()) {
    const m = re.exec(k);
    if (m) out.add(Number(m[1]));
  }
  return [...out].sort((a, b) => a - b);
}

function registerInput(p: Params): RegisterImageInput {
  const mappings = indices(p, 'BlockDeviceMapping').map((i) => {
    const g = (k: string) => p.get(`BlockDeviceMapping.${i}.${k}`);
    const size = g('Ebs.VolumeSize');
    return {
      ...(g('DeviceName') !== undefined ? { deviceName: g('DeviceName')! } : {}),
      ...(g('Ebs.SnapshotId') !== undefined ? { snapshotId: g('Ebs.SnapshotId')! } : {}),
      ...(size !== undefined ? { volumeSize: Number(size) } : {}),
      ...(g('Ebs.VolumeType') !== undefined ? { volumeType: g('Ebs.VolumeType')! } : {}),
      ...(g('Ebs.DeleteOnTermination') !== undefined ? { deleteOnTermination: bool(g('Ebs.DeleteOnTermination'))! } : {}),
    };
  });
  const tags: RegisterImageInput['tags'] = [];
  for (const t of indices(p, 'TagSpecification')) {
    const type = p.get(`TagSpecification.${t}.ResourceType`);
    if (type !== 'image' && type !== 'snapshot') throw new Ec2Error('InvalidParameterValue', `Value (${type}) for parameter resourceType is invalid. Images take tags of type image.`);
    if (type !== 'image') continue;
    for (const i of indices(p, `TagSpecification.${t}.Tag`)) {
      tags.push({ key: p.get(`TagSpecification.${t}.Tag.${i}.Key`) ?? '', value: p.get(`TagSpecification.${t}.Tag.${i}.Value`) ?? '' });
    }
  }
  const opt = (k: string) => p.get(k);
  const out: RegisterImageInput = { mappings, tags };
  if (opt('Name') !== undefined) out.name = opt('Name')!;
  if (opt('Description') !== undefined) out.description = opt('Description')!;
  if (opt('Architecture') !== undefined) out.architecture = opt('Architecture')!;
  if (opt('BootMode') !== undefined) out.bootMode = opt('BootMode')!;
  if (opt('RootDeviceName') !== undefined) out.rootDeviceName = opt('RootDeviceName')!;
  if (opt('VirtualizationType') !== undefined) out.virtualizationType = opt('VirtualizationType')!;
  if (opt('EnaSupport') !== undefined) out.enaSupport = bool(opt('EnaSupport'))!;
  if (opt('ImdsSupport') !== undefined) out.imdsSupport = opt('ImdsSupport')!;
  return out;
}

function imageItem(i: ImageView): string {
  const tags = i.tags.length ? `<tagSet>${i.tags.map((t) => `<item><key>${esc(t.key)}</key><value>${esc(t.value)}</value></item>`).join('')}</tagSet>` : '';
  const maps = i.mappings
    .map(
      (m) =>
        `<item><deviceName>${esc(m.deviceName)}</deviceName><ebs>${m.snapshotId ? `<snapshotId>${m.snapshotId}</snapshotId>` : ''}` +
        `<volumeSize>${m.volumeSize}</volumeSize><deleteOnTermination>${m.deleteOnTermination}</deleteOnTermination>` +
        `<volumeType>${m.volumeType}</volumeType><encrypted>${m.encrypted}</encrypted></ebs></item>`,
    )
    .join('');
  return (
    '<item>' +
    `<imageId>${i.id}</imageId>` +
    `<imageLocation>${i.ownerId}/${esc(i.name)}</imageLocation>` +
    `<imageState>${i.state}</imageState>` +
    `<imageOwnerId>${i.ownerId}</imageOwnerId>` +
    `<creationDate>${new Date(i.creationDate).toISOString()}</creationDate>` +
    '<isPublic>false</isPublic>' +
    `<architecture>${i.architecture}</architecture>` +
    '<imageType>machine</imageType>' +
    `<name>${esc(i.name)}</name>` +
    (i.description !== null ? `<description>${esc(i.description)}</description>` : '') +
    '<rootDeviceType>ebs</rootDeviceType>' +
    `<rootDeviceName>${esc(i.rootDeviceName)}</rootDeviceName>` +
    `<blockDeviceMapping>${maps}</blockDeviceMapping>` +
    `<virtualizationType>${i.virtualizationType}</virtualizationType>` +
    tags +
    '<hypervisor>xen</hypervisor>' +
    `<enaSupport>${i.enaSupport}</enaSupport>` +
    (i.bootMode ? `<bootMode>${i.bootMode}</bootMode>` : '') +
    (i.imdsSupport ? `<imdsSupport>${i.imdsSupport}</imdsSupport>` : '') +
    '</item>'
  );
}

function matches(i: ImageView, f: { name: string; values: string[] }): boolean {
  const any = (v: string | null | undefined) => f.values.some((x) => globMatch(x, v ?? ''));
  switch (f.name) {
    case 'name':
      return any(i.name);
    case 'state':
      return any(i.state);
    case 'image-id':
      return any(i.id);
    case 'owner-id':
      return any(i.ownerId);
    case 'architecture':
      return any(i.architecture);
    case 'description':
      return any(i.description);
    case 'boot-mode':
      return any(i.bootMode);
    case 'is-public':
      return any('false');
    case 'image-type':
      return any('machine');
    case 'root-device-type':
      return any('ebs');
    case 'root-device-name':
      return any(i.rootDeviceName);
    case 'virtualization-type':
      return any(i.virtualizationType);
    case 'block-device-mapping.snapshot-id':
      return i.mappings.some((m) => any(m.snapshotId));
    case 'tag-key':
      return i.tags.some((t) => any(t.key));
    default:
      if (f.name.startsWith('tag:')) {
        const key = f.name.slice(4);
        return i.tags.some((t) => t.key === key && any(t.value));
      }
      throw new Ec2Error('InvalidParameterValue', `The filter '${f.name}' is invalid`);
  }
}

const AMI_RE = /^ami-[0-9a-f]+$/;

function wrap<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof ImageError) throw new Ec2Error(err.code, err.message);
    throw err;
  }
}

async function registerImage(model: EbsModel, p: Params, requestId: string): Promise<EmuResponse> {
  const input = registerInput(p);
  let view: ImageView;
  try {
    view = await imagesOf(model).register(input);
  } catch (err) {
    if (err instanceof ImageError) throw new Ec2Error(err.code, err.message);
    throw err;
  }
  return xml(200, `<RegisterImageResponse xmlns="${XMLNS}"><requestId>${requestId}</requestId><imageId>${view.id}</imageId></RegisterImageResponse>`);
}

async function describeImages(model: EbsModel, p: Params, requestId: string): Promise<EmuResponse> {
  const ids = list(p, 'ImageId');
  const owners = list(p, 'Owner');
  const accountId = model.config.accountId;
  for (const id of ids) if (!AMI_RE.test(id)) throw new Ec2Error('InvalidAMIID.Malformed', `Invalid id: "${id}" (expecting "ami-...")`);
  let views = await imagesOf(model).list();
  if (ids.length) {
    const missing = ids.filter((id) => !views.some((v) => v.id === id));
    if (missing.length) throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${missing.join(', ')}]' does not exist`);
    views = views.filter((v) => ids.includes(v.id));
  }
  if (owners.length) views = views.filter((v) => owners.some((o) => o === v.ownerId || (o === 'self' && v.ownerId === accountId)));
  for (const f of filters(p)) views = wrap(() => views.filter((v) => matches(v, f)));
  return xml(200, `<DescribeImagesResponse xmlns="${XMLNS}"><requestId>${requestId}</requestId><imagesSet>${views.map(imageItem).join('')}</imagesSet></DescribeImagesResponse>`);
}

async function deregisterImage(model: EbsModel, p: Params, requestId: string): Promise<EmuResponse> {
  const id = p.get('ImageId');
  if (!id) throw new Ec2Error('MissingParameter', 'The request must contain the parameter ImageId');
  if (!AMI_RE.test(id)) throw new Ec2Error('InvalidAMIID.Malformed', `Invalid id: "${id}" (expecting "ami-...")`);
  if (!(await imagesOf(model).deregister(id))) throw new Ec2Error('InvalidAMIID.NotFound', `The image id '[${id}]' does not exist`);
  return xml(200, `<DeregisterImageResponse xmlns="${XMLNS}"><requestId>${requestId}</requestId><return>true</return></DeregisterImageResponse>`);
}

/** The image actions the EC2 wire dispatches to. */
export const IMAGE_ACTIONS: Record<string, (model: EbsModel, p: Params, requestId: string) => Promise<EmuResponse>> = {
  RegisterImage: registerImage,
  DescribeImages: describeImages,
  DeregisterImage: deregisterImage,
};
