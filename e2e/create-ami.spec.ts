import { test, expect } from './helpers/test.ts';
import { bootFixture } from '../src/images/testing/boot-fixtures.ts';

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
  const row = page.locator(`[data-testid="library-row"][data-snapshot-id="${snapshotId}"]`);
  await row.getByRole('button', { name: 'Create AMI…' }).click();
  const again = page.getByTestId('create-ami');
  // Read again from the snapshot's own blocks.
  await expect(again.getByTestId('ami-evidence')).toContainText('BIOS boot partition');
  await expect(again.getByLabel('Boot mode')).toHaveValue('uefi-preferred');
  await again.getByLabel('Name').fill(name);
  await again.getByRole('button', { name: 'Create AMI', exact: true }).click();
  await expect(again.getByTestId('ami-problem')).toContainText(`An AMI named “${name}” already exists in this account and Region`);
  await expect(again.getByTestId('ami-id')).toHaveCount(0);
});
