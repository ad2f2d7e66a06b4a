import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test, expect } from './helpers/test.ts';
import { bootFixture, nitroFixture } from '../src/images/testing/boot-fixtures.ts';

/** The raw fixture converted by qemu-img (made once). */
function converted(raw: string, format: 'qcow2' | 'vmdk'): string {
  const out = `${raw}.${format}`;
  if (!existsSync(out)) execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', format, raw, out]);
  return out;
}

test('the plan says how the image boots and what Nitro would make of it before anything is sent', async ({ page }) => {
  await page.goto('/#/upload');
  const picker = page.getByLabel("or use the browser's plain file dialog");
  let first = true;
  const pick = {
    setInputFiles: async (path: string) => {
      if (!first) await page.getByRole('button', { name: 'Choose another file' }).click();
      first = false;
      await picker.setInputFiles(path);
    },
  };
  // A qcow2: read through its format reader in the image worker.
  await pick.setInputFiles(converted(bootFixture('gpt-arm64'), 'qcow2'));
  await expect(page.getByTestId('plan-format')).toContainText('qcow2');
  const boots = page.getByTestId('plan-boot');
  await expect(boots).toHaveAttribute('data-architecture', 'arm64');
  await expect(boots).toHaveAttribute('data-boot-mode', 'uefi');
  await expect(boots).toContainText('arm64, UEFI');
  await expect(page.getByTestId('plan-boot-evidence')).toContainText('EFI/BOOT/BOOTAA64.EFI built for arm64 → arm64, UEFI');
  await expect(page.getByTestId('plan-nitro')).toContainText('Not checked: No ext root file system was found');

  await pick.setInputFiles(converted(bootFixture('mbr-bios'), 'vmdk'));
  await expect(page.getByTestId('plan-format')).toContainText('vmdk');
  await expect(page.getByTestId('plan-boot')).toHaveAttribute('data-boot-mode', 'legacy-bios');
  await expect(page.getByTestId('plan-boot')).toContainText('x86_64, legacy BIOS');

  await pick.setInputFiles(bootFixture('blank'));
  await expect(page.getByTestId('plan-boot')).toContainText('not decided by the image');
  await expect(page.getByTestId('plan-boot-evidence')).toContainText('choose the architecture and boot mode yourself');

  // An ext4 root that fails each check: a warning with what to do for each, and the upload can still start.
  await pick.setInputFiles(nitroFixture('unready'));
  const nitro = page.getByTestId('plan-nitro');
  for (const check of ['nvme', 'ena', 'fstab', 'cloud-init']) await expect(nitro.locator(`li[data-check="${check}"]`)).toHaveAttribute('data-level', 'warning');
  await expect(nitro.locator('li[data-check="fstab"]')).toContainText('Use UUID= or LABEL= instead');
  await expect(nitro.locator('li[data-check="cloud-init"]')).toContainText('Install cloud-init');
  await expect(page.getByRole('button', { name: 'Start upload' })).toBeEnabled();

  await pick.setInputFiles(nitroFixture('ready'));
  for (const check of ['nvme', 'ena', 'fstab', 'cloud-init']) await expect(page.getByTestId('plan-nitro').locator(`li[data-check="${check}"]`)).toHaveAttribute('data-level', 'ok');
});

test('after an upload, Create AMI registers it with the detected values; a duplicate name gets its sentence', async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto('/#/upload');
  await page.getByLabel("or use the browser's plain file dialog").setInputFiles(bootFixture('gpt-x64-bios'));
  await expect(page.getByTestId('plan-format')).toHaveText('raw');
  await page.getByRole('button', { name: 'Start upload' }).click();
  await expect(page.getByTestId('final-report')).toContainText('Snapshot completed', { timeout: 120_000 });
  const snapshotId = (await page.getByTestId('snapshot-id').textContent())!;

  const ami = page.getByTestId('create-ami');
  await ami.getByRole('button', { name: 'Create AMI…' }).click();
  await expect(ami.getByLabel('Architecture')).toHaveValue('x86_64');
  await expect(ami.getByLabel('Boot mode')).toHaveValue('uefi-preferred');
  await expect(ami.getByTestId('ami-evidence')).toContainText('BIOS boot partition');
  await expect(ami.getByTestId('ami-evidence')).toContainText('EFI/BOOT/BOOTX64.EFI');
  await expect(ami.getByTestId('ami-nitro')).toContainText('Not checked: No ext root file system was found');
  const name = await ami.getByLabel('Name').inputValue();
  expect(name).toContain(snapshotId);
  await ami.getByRole('button', { name: 'Create AMI', exact: true }).click();
  await expect(ami.getByTestId('ami-id')).toHaveText(/^ami-[0-9a-f]+$/);
  await expect(ami.getByTestId('ami-state')).toHaveText('available', { timeout: 30_000 });

  // The same name again, from the Library, is refused with a sentence.
  await page.goto('/#/library');
  const workers: string[] = [];
  page.on('worker', (w) => workers.push(w.url()));
  const row = page.locator(`[data-testid="library-row"][data-snapshot-id="${snapshotId}"]`);
  await row.getByRole('button', { name: 'Create AMI…' }).click();
  const again = page.getByTestId('create-ami');
  // Read again from the snapshot's own blocks, in the boot worker (the page's thread reads none of them).
  await expect(again.getByTestId('ami-evidence')).toContainText('BIOS boot partition');
  await expect(again.getByLabel('Architecture')).toHaveValue('x86_64');
  await expect(again.getByLabel('Boot mode')).toHaveValue('uefi-preferred');
  await expect(again.getByTestId('ami-nitro')).toContainText('Not checked: No ext root file system was found');
  expect(workers.filter((u) => /boot\.worker/.test(u))).toHaveLength(1);
  await again.getByLabel('Name').fill(name);
  await again.getByRole('button', { name: 'Create AMI', exact: true }).click();
  await expect(again.getByTestId('ami-problem')).toContainText(`An AMI named “${name}” already exists in this account and Region`);
  await expect(again.getByTestId('ami-id')).toHaveCount(0);
});
