import { stringify } from 'yaml';
import { PERMISSION_POLICY } from './role-setup.js';

/** What `GET /v1/aws/role-setup?format=cloudformation` fills in for the tenant. */
export interface ValidationRoleDefaults {
  externalId?: string | undefined;
  /** The identities the chosen delegates reported; none leaves the parameter for the admin to fill. */
  trustedPrincipalArns?: readonly string[] | undefined;
}

/** IAM's charset for external IDs (sts:ExternalId), so a pasted value with a typo fails at the form, not at AssumeRole. */
const EXTERNAL_ID_PATTERN = '[\\w+=,.@:/-]*';

/**
 * The CloudFormation template for the role Attaché validates with. It is the only source of the
 * template: deploy/aws/validation-role.yaml is written from it (deploy/aws/write-template.mjs), and
 * the e2e suite checks that the file and what the API serves are the same template. The permission
 * policy is the one role setup returns as JSON, so the two cannot drift apart.
 *
 * Intrinsic functions are in their long form (`Ref:`, `Fn::If:`) so the document is plain YAML any
 * parser reads; serialised as YAML 1.1 so values such as the format version are quoted for the
 * YAML 1.1 parsers CloudFormation tooling uses.
 */
export function validationRoleTemplate(defaults: ValidationRoleDefaults = {}): string {
  const principals = defaults.trustedPrincipalArns ?? [];
  const template = {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      'IAM role that Attache delegates assume (with the tenant external ID) to validate this AWS account and list its IAM policies.',
    Metadata: {
      'AWS::CloudFormation::Interface': {
        ParameterGroups: [
          { Label: { default: 'Who may assume the role' }, Parameters: ['TrustedPrincipalArns', 'ExternalId'] },
          { Label: { default: 'The role' }, Parameters: ['RoleName', 'RolePath', 'PermissionsBoundaryArn', 'MaxSessionDuration'] },
        ],
        ParameterLabels: {
          TrustedPrincipalArns: { default: 'Delegate identities (IAM role or user ARNs)' },
          ExternalId: { default: 'External ID of your Attache tenant' },
          PermissionsBoundaryArn: { default: 'Permissions boundary (optional)' },
        },
      },
    },
    Parameters: {
      TrustedPrincipalArns: {
        Type: 'CommaDelimitedList',
        Description:
          'ARNs of the IAM roles or users the Attache delegates run as (GET /v1/aws/role-setup lists what they reported), comma-separated.',
        ...(principals.length > 0 ? { Default: principals.join(',') } : {}),
      },
      ExternalId: {
        Type: 'String',
        Description: 'Your tenant external ID (GET /v1/aws/external-id). AssumeRole without it is refused.',
        MinLength: 2,
        MaxLength: 1224,
        AllowedPattern: EXTERNAL_ID_PATTERN,
        ConstraintDescription: 'letters, digits and + = , . @ : / - only, 2 to 1224 characters',
        ...(defaults.externalId !== undefined ? { Default: defaults.externalId } : {}),
      },
      RoleName: {
        Type: 'String',
        Description: 'Name of the role; the account record in Attache names its ARN.',
        Default: 'AttacheValidation',
        AllowedPattern: '[\\w+=,.@-]{1,64}',
        ConstraintDescription: 'an IAM role name: up to 64 letters, digits and + = , . @ _ -',
      },
      RolePath: {
        Type: 'String',
        Description: 'IAM path of the role, starting and ending with a slash.',
        Default: '/',
        AllowedPattern: '/([\\x21-\\x7E]{0,510}/)?',
        ConstraintDescription: 'an IAM path such as / or /attache/',
      },
      PermissionsBoundaryArn: {
        Type: 'String',
        Description: 'ARN of a managed policy to set as the role permissions boundary; empty for none.',
        Default: '',
        AllowedPattern: '(arn:aws[a-z-]*:iam::(aws|[0-9]{12}):policy/.+)?',
        ConstraintDescription: 'empty, or an IAM policy ARN',
      },
      MaxSessionDuration: {
        Type: 'Number',
        Description: 'Longest session, in seconds, that assuming the role may ask for.',
        Default: 3600,
        MinValue: 3600,
        MaxValue: 43200,
      },
    },
    Conditions: {
      HasPermissionsBoundary: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'PermissionsBoundaryArn' }, ''] }] },
    },
    Resources: {
      ValidationRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: { Ref: 'RoleName' },
          Path: { Ref: 'RolePath' },
          Description: `Assumed by Attache delegates to validate the account (${PERMISSION_POLICY.Statement[0].Action.join(', ')}).`,
          MaxSessionDuration: { Ref: 'MaxSessionDuration' },
          PermissionsBoundary: { 'Fn::If': ['HasPermissionsBoundary', { Ref: 'PermissionsBoundaryArn' }, { Ref: 'AWS::NoValue' }] },
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { AWS: { Ref: 'TrustedPrincipalArns' } },
                Action: 'sts:AssumeRole',
                Condition: { StringEquals: { 'sts:ExternalId': { Ref: 'ExternalId' } } },
              },
            ],
          },
          Policies: [{ PolicyName: PERMISSION_POLICY.Statement[0].Sid, PolicyDocument: PERMISSION_POLICY }],
        },
      },
    },
    Outputs: {
      RoleArn: { Description: 'Give this ARN to Attache as the account auth.roleArn.', Value: { 'Fn::GetAtt': ['ValidationRole', 'Arn'] } },
      ExternalId: { Description: 'The external ID the trust policy requires.', Value: { Ref: 'ExternalId' } },
    },
  };
  return stringify(template, { version: '1.1', lineWidth: 0 });
}
