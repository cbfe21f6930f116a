"""cfn-lint rule E9001: enum values the template sets, in every `Fn::If` branch, are values the AWS
API itself accepts (botocore's service models).

cfn-lint checks properties against CloudFormation's resource schemas; some schemas lag behind, or
run ahead of, the API a resource handler calls, and cfn-lint reads only one branch of a condition
the way a deploy would. This rule walks each property of the resource types below alongside the
input shape of the API operation that creates it (member names matched case-insensitively, as
CloudFormation spells them in PascalCase and some models in camelCase) and reports every literal
string, in any branch, that the model's enum does not list. Run by `make lint-template`:
`cfn-lint --append-rules scripts/cfn-lint-rules template.yaml`.
"""

import botocore.session
from cfnlint.rules import CloudFormationLintRule, RuleMatch

# CloudFormation type -> (botocore service, creating operation, CloudFormation names that differ).
CREATED_BY = {
    "AWS::Cognito::UserPool": ("cognito-idp", "CreateUserPool", {"UserPoolName": "PoolName"}),
    "AWS::Cognito::UserPoolClient": ("cognito-idp", "CreateUserPoolClient", {}),
    "AWS::Cognito::UserPoolDomain": ("cognito-idp", "CreateUserPoolDomain", {}),
    "AWS::Cognito::UserPoolResourceServer": ("cognito-idp", "CreateResourceServer", {}),
    "AWS::BedrockAgentCore::Gateway": ("bedrock-agentcore-control", "CreateGateway", {}),
    "AWS::BedrockAgentCore::GatewayTarget": ("bedrock-agentcore-control", "CreateGatewayTarget", {}),
    "AWS::BedrockAgentCore::OAuth2CredentialProvider": (
        "bedrock-agentcore-control",
        "CreateOauth2CredentialProvider",
        {},
    ),
}


def _member(shape, name, renames):
    """The member of a structure shape that a CloudFormation property name stands for."""
    wanted = renames.get(name, name).lower()
    for member, member_shape in shape.members.items():
        if member.lower() == wanted:
            return member_shape
    return None


def _literal_branches(value, path):
    """(value, path) for a value and, through `Fn::If`, each of its branches; other intrinsic
    functions produce values no model can check here and are skipped."""
    if isinstance(value, dict) and len(value) == 1:
        (key, argument), = value.items()
        if key == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
            for index in (1, 2):
                yield from _literal_branches(argument[index], path + [key, index])
            return
        if key.startswith("Fn::") or key == "Ref":
            return
    yield value, path


def _walk(value, shape, path, renames, problems):
    for value, path in _literal_branches(value, path):
        if shape.type_name == "structure" and isinstance(value, dict):
            for name, child in value.items():
                member = _member(shape, name, renames)
                if member is not None:
                    _walk(child, member, path + [name], {}, problems)
        elif shape.type_name == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                _walk(item, shape.member, path + [index], {}, problems)
        elif shape.type_name == "string" and isinstance(value, str) and shape.enum:
            if value not in shape.enum:
                problems.append((path, value, shape.name, shape.enum))


class BotocoreEnums(CloudFormationLintRule):
    """Literal enum values (all condition branches) against the AWS API models."""

    id = "E9001"
    shortdesc = "Enum values the AWS API accepts"
    description = (
        "Every literal value of an enum-typed property, in every Fn::If branch, is listed by the "
        "AWS API model (botocore) of the operation that creates the resource"
    )
    source_url = "https://github.com/boto/botocore/tree/develop/botocore/data"
    tags = ["resources", "properties", "botocore"]

    def match(self, cfn):
        session = botocore.session.get_session()
        models = {}
        matches = []
        for logical_id, resource in cfn.get_resources().items():
            created_by = CREATED_BY.get(resource.get("Type"))
            properties = resource.get("Properties")
            if created_by is None or not isinstance(properties, dict):
                continue
            service, operation, renames = created_by
            if service not in models:
                models[service] = session.get_service_model(service)
            shape = models[service].operation_model(operation).input_shape
            problems = []
            _walk(properties, shape, ["Resources", logical_id, "Properties"], renames, problems)
            for path, value, shape_name, allowed in problems:
                message = (
                    f"{value!r} is not a value of {service} {shape_name} "
                    f"(botocore {botocore.__version__}: {', '.join(allowed)})"
                )
                matches.append(RuleMatch(path, message))
        return matches
