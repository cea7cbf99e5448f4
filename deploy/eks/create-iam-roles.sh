#!/bin/sh
# The two IRSA roles of the chart (docs/deploy.md, step 2), after `eksctl create cluster`:
#   kryptonite-artifacts-read   S3 read  <- the gateway, candidates, ranking, content,
#                                           precompute and daily-update ServiceAccounts
#   kryptonite-artifacts-write  S3 write <- the train and bootstrap ServiceAccounts
# Each role trusts exactly those accounts of namespace $NAMESPACE (release "kryptonite").
# Usage: AWS_ACCOUNT_ID=... AWS_REGION=... sh deploy/eks/create-iam-roles.sh
set -eu
: "${AWS_ACCOUNT_ID:?}" "${AWS_REGION:?}"
CLUSTER=${CLUSTER:-kryptonite}
NAMESPACE=${NAMESPACE:-kryptonite}
HERE=$(dirname "$0")
ISSUER=$(aws eks describe-cluster --name "$CLUSTER" --query cluster.identity.oidc.issuer \
  --output text | sed 's|^https://||')

role() { # role NAME POLICY_FILE WORKLOAD...
  name=$1 policy=$2; shift 2
  subs=""
  for w in "$@"; do
    subs="$subs${subs:+,}\"system:serviceaccount:$NAMESPACE:kryptonite-$w\""
  done
  cat > "/tmp/$name-trust.json" <<JSON
{"Version": "2012-10-17", "Statement": [{
  "Effect": "Allow",
  "Principal": {"Federated": "arn:aws:iam::$AWS_ACCOUNT_ID:oidc-provider/$ISSUER"},
  "Action": "sts:AssumeRoleWithWebIdentity",
  "Condition": {"StringEquals": {"$ISSUER:aud": "sts.amazonaws.com", "$ISSUER:sub": [$subs]}}
}]}
JSON
  sed "s/ACCOUNT_ID/$AWS_ACCOUNT_ID/g" "$HERE/$policy" > "/tmp/$name-policy.json"
  aws iam create-role --role-name "$name" \
    --assume-role-policy-document "file:///tmp/$name-trust.json" >/dev/null
  aws iam put-role-policy --role-name "$name" --policy-name "$name" \
    --policy-document "file:///tmp/$name-policy.json"
  echo "arn:aws:iam::$AWS_ACCOUNT_ID:role/$name"
}

role kryptonite-artifacts-read s3-read-policy.json \
  gateway candidates ranking content precompute daily-update
role kryptonite-artifacts-write s3-write-policy.json train bootstrap
