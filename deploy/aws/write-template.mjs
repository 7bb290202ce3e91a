#!/usr/bin/env node
// Writes deploy/aws/validation-role.yaml from the control plane's template source, the one the API
// serves at GET /v1/aws/role-setup?format=cloudformation. Run after `npm run build` whenever
// control-plane/src/aws/validation-role-template.ts or the role's permission policy changes; the e2e
// suite (e2e/src/deploy-cloudformation.test.ts) fails while the file is stale.
import { writeFileSync } from 'node:fs';
import { validationRoleTemplate } from '../../control-plane/dist/aws/validation-role-template.js';

const HEADER = `# The IAM role Attache validates an AWS account with, as a CloudFormation template.
# Generated from control-plane/src/aws/validation-role-template.ts by deploy/aws/write-template.mjs:
# do not edit by hand. GET /v1/aws/role-setup?format=cloudformation serves the same template with
# your tenant's external ID (and the delegates' identity, once reported) as parameter defaults.
#
#   aws cloudformation deploy --template-file deploy/aws/validation-role.yaml \\
#     --stack-name attache-validation-role --capabilities CAPABILITY_NAMED_IAM \\
#     --parameter-overrides ExternalId=<external id> TrustedPrincipalArns=<delegate role ARN>
`;

const file = new URL('validation-role.yaml', import.meta.url);
writeFileSync(file, HEADER + validationRoleTemplate());
process.stderr.write(`wrote ${file.pathname.split('/').slice(-3).join('/')}\n`);
