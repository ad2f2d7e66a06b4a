#!/usr/bin/env python3
"""The emulator's EC2 images (RegisterImage, DescribeImages, DeregisterImage), driven by boto3.

Usage: python3 server/conformance/test_images_boto3.py <url> <image-id> <snapshot-id>
<image-id> was registered by `blockport upload --register-image` from <snapshot-id> (an arm64 UEFI disk).
Prints one line per check and exits 1 if any failed.
"""
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from checks import check, finish

URL, IMAGE, SNAP = sys.argv[1].rstrip('/'), sys.argv[2], sys.argv[3]
CFG = Config(parameter_validation=False, retries={'max_attempts': 1, 'mode': 'standard'})
ec2 = boto3.client('ec2', endpoint_url=URL, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test', config=CFG)
ebs = boto3.client('ebs', endpoint_url=URL, region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test', config=CFG)


def refused(code, **kw):
    try:
        ec2.register_image(**kw)
    except ClientError as e:
        assert e.response['Error']['Code'] == code, e.response['Error']
        assert e.response['Error']['Message'], 'no message'
        return e.response['Error']['Message']
    raise AssertionError(f'expected {code}')


def root(snap=SNAP, **ebs_extra):
    return [{'DeviceName': '/dev/xvda', 'Ebs': {'SnapshotId': snap, 'VolumeType': 'gp3', **ebs_extra}}]


@check('describe_images shows the uploaded image: arm64, uefi, the snapshot at /dev/xvda, available')
def _():
    img = ec2.describe_images(ImageIds=[IMAGE])['Images'][0]
    assert img['State'] == 'available', img['State']
    assert img['Architecture'] == 'arm64' and img['BootMode'] == 'uefi', img
    assert img['RootDeviceName'] == '/dev/xvda' and img['RootDeviceType'] == 'ebs'
    m = img['BlockDeviceMappings'][0]
    assert m['DeviceName'] == '/dev/xvda' and m['Ebs']['SnapshotId'] == SNAP and m['Ebs']['VolumeType'] == 'gp3' and m['Ebs']['DeleteOnTermination'] is True
    assert img['EnaSupport'] is True and img['ImdsSupport'] == 'v2.0' and img['VirtualizationType'] == 'hvm'
    assert img['OwnerId'] == '111122223333'


@check('filters by name, state, tag and owner self; ids unknown are InvalidAMIID.NotFound')
def _():
    name = ec2.describe_images(ImageIds=[IMAGE])['Images'][0]['Name']
    assert [i['ImageId'] for i in ec2.describe_images(Filters=[{'Name': 'name', 'Values': [name]}])['Images']] == [IMAGE]
    assert IMAGE in [i['ImageId'] for i in ec2.describe_images(Owners=['self'], Filters=[{'Name': 'state', 'Values': ['available']}])['Images']]
    assert ec2.describe_images(Filters=[{'Name': 'state', 'Values': ['failed']}])['Images'] == []
    ec2.register_image(Name='tagged-image', Architecture='x86_64', BootMode='uefi', RootDeviceName='/dev/xvda', BlockDeviceMappings=root(),
                       TagSpecifications=[{'ResourceType': 'image', 'Tags': [{'Key': 'team', 'Value': 'blue'}]}])
    got = ec2.describe_images(Filters=[{'Name': 'tag:team', 'Values': ['bl*']}])['Images']
    assert [i['Name'] for i in got] == ['tagged-image'] and got[0]['Tags'] == [{'Key': 'team', 'Value': 'blue'}]
    try:
        ec2.describe_images(ImageIds=['ami-0123456789abcdef0'])
        raise AssertionError('no error')
    except ClientError as e:
        assert e.response['Error']['Code'] == 'InvalidAMIID.NotFound'
    try:
        ec2.describe_images(ImageIds=['nope'])
        raise AssertionError('no error')
    except ClientError as e:
        assert e.response['Error']['Code'] == 'InvalidAMIID.Malformed'


@check('a new image is pending, then available')
def _():
    iid = ec2.register_image(Name='pending-then-available', Architecture='x86_64', RootDeviceName='/dev/xvda', BlockDeviceMappings=root())['ImageId']
    assert ec2.describe_images(ImageIds=[iid])['Images'][0]['State'] == 'pending'
    ec2.get_waiter('image_available').wait(ImageIds=[iid], WaiterConfig={'Delay': 1, 'MaxAttempts': 30})


@check('name rules and uniqueness per account and Region')
def _():
    name = ec2.describe_images(ImageIds=[IMAGE])['Images'][0]['Name']
    assert IMAGE in refused('InvalidAMIName.Duplicate', Name=name, Architecture='arm64', RootDeviceName='/dev/xvda', BlockDeviceMappings=root())
    refused('InvalidAMIName.Malformed', Name='ab', Architecture='arm64', RootDeviceName='/dev/xvda', BlockDeviceMappings=root())
    refused('InvalidAMIName.Malformed', Name='bad*name', Architecture='arm64', RootDeviceName='/dev/xvda', BlockDeviceMappings=root())
    refused('MissingParameter', Architecture='arm64', RootDeviceName='/dev/xvda', BlockDeviceMappings=root())


@check('architecture and boot mode values')
def _():
    refused('InvalidParameterValue', Name='bad-arch', Architecture='sparc', RootDeviceName='/dev/xvda', BlockDeviceMappings=root())
    refused('InvalidParameterValue', Name='bad-mode', Architecture='x86_64', BootMode='bios', RootDeviceName='/dev/xvda', BlockDeviceMappings=root())
    refused('InvalidParameterCombination', Name='arm-bios', Architecture='arm64', BootMode='legacy-bios', RootDeviceName='/dev/xvda', BlockDeviceMappings=root())


@check('the snapshot must exist, be completed, and fit the volume; the root device must be mapped')
def _():
    refused('InvalidSnapshot.NotFound', Name='no-snap', Architecture='x86_64', RootDeviceName='/dev/xvda', BlockDeviceMappings=root('snap-0123456789abcdef0'))
    refused('InvalidSnapshotID.Malformed', Name='bad-snap', Architecture='x86_64', RootDeviceName='/dev/xvda', BlockDeviceMappings=root('vol-1'))
    pending = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    refused('IncorrectState', Name='pending-snap', Architecture='x86_64', RootDeviceName='/dev/xvda', BlockDeviceMappings=root(pending))
    size = ec2.describe_snapshots(SnapshotIds=[SNAP])['Snapshots'][0]['VolumeSize']
    big = ebs.start_snapshot(VolumeSize=size + 1)['SnapshotId']
    ebs.complete_snapshot(SnapshotId=big, ChangedBlocksCount=0)
    deadline = time.time() + 30
    while ec2.describe_snapshots(SnapshotIds=[big])['Snapshots'][0]['State'] != 'completed' and time.time() < deadline:
        time.sleep(0.1)
    assert 'smaller than snapshot' in refused('InvalidBlockDeviceMapping', Name='too-small', Architecture='x86_64', RootDeviceName='/dev/xvda', BlockDeviceMappings=root(big, VolumeSize=size))
    refused('InvalidBlockDeviceMapping', Name='root-elsewhere', Architecture='x86_64', RootDeviceName='/dev/sda1', BlockDeviceMappings=root())


@check('deregister_image removes it (the snapshot stays); a second time is InvalidAMIID.NotFound')
def _():
    iid = ec2.register_image(Name='to-deregister', Architecture='x86_64', RootDeviceName='/dev/xvda', BlockDeviceMappings=root())['ImageId']
    ec2.deregister_image(ImageId=iid)
    assert ec2.describe_images(Filters=[{'Name': 'image-id', 'Values': [iid]}])['Images'] == []
    assert ec2.describe_snapshots(SnapshotIds=[SNAP])['Snapshots'][0]['State'] == 'completed'
    try:
        ec2.deregister_image(ImageId=iid)
        raise AssertionError('no error')
    except ClientError as e:
        assert e.response['Error']['Code'] == 'InvalidAMIID.NotFound'


@check('a dry run answers DryRunOperation (HTTP 412) and registers nothing')
def _():
    before = len(ec2.describe_images(Owners=['self'])['Images'])
    try:
        ec2.register_image(Name='dry-run-only', Architecture='arm64', BootMode='uefi', RootDeviceName='/dev/xvda', BlockDeviceMappings=root(), DryRun=True)
        raise AssertionError('expected DryRunOperation')
    except ClientError as e:
        assert e.response['Error']['Code'] == 'DryRunOperation', e.response['Error']
        assert e.response['ResponseMetadata']['HTTPStatusCode'] == 412
    assert len(ec2.describe_images(Owners=['self'])['Images']) == before
    assert ec2.describe_images(Filters=[{'Name': 'name', 'Values': ['dry-run-only']}])['Images'] == []


finish()
