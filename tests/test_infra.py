"""The Azure deployment (azure.yaml, infra/) against the code: app settings, identity-only
access, least-privilege roles, the Event Grid hook and the azd wiring.

No Bicep compiler is available here, so small line parsers read the real files. They
understand only the shapes infra/ is written in (one ``key: value`` per line, role GUIDs
in ``var <scope>RoleIds = [...]`` lists) and fail loudly on anything else, so a change of
shape breaks the test instead of silently passing it."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from pydantic import AliasChoices, ValidationError

from kanta.config import STORAGE_CONNECTION, UPLOADS_CONTAINER, Settings

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
FUNCTION_APP_BICEP = INFRA / "app" / "function-app.bicep"
RBAC_BICEP = INFRA / "app" / "rbac.bicep"
MAIN_BICEP = INFRA / "main.bicep"
HOOKS = INFRA / "hooks"

# Suffixes of an identity-based connection that the blob trigger binding and
# kanta/storage.py read (Learn: "Azure Functions developer guide", Connections).
BINDING_SUFFIXES = ("credential", "clientId", "blobServiceUri", "queueServiceUri")

# Built-in role definition GUIDs (Learn: "Azure built-in roles").
BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
BLOB_DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
TOO_BROAD = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
    "81a9662b-bebf-436f-a333-f67b29880f12": "Storage Account Key Operator Service Role",
}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


# --- Parsers -------------------------------------------------------------------------------

def strip_comment(line: str) -> str:
    """``line`` without its ``//`` comment; a ``//`` inside a '...' string (a URL) is kept."""
    in_string = False
    for i, char in enumerate(line):
        if char == "'":
            in_string = not in_string
        elif not in_string and line.startswith("//", i):
            return line[:i]
    return line


def bicep_object(text: str, var: str) -> dict[str, str]:
    """The entries of ``var <var> = { ... }`` as name -> raw Bicep expression.

    The literal must have one ``name: expression`` per line (full-line comments allowed)
    and end with a ``}`` alone at the start of a line. Raises AssertionError otherwise."""
    lines = text.splitlines()
    (start,) = [i for i, line in enumerate(lines) if re.fullmatch(rf"var {var} = \{{\s*", line)]
    entries: dict[str, str] = {}
    for line in lines[start + 1:]:
        if line.rstrip() == "}":
            return entries
        stripped = strip_comment(line).strip()
        if not stripped:
            continue
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(\S.*)", stripped)
        assert match, f"unexpected line in var {var}: {line!r}"
        assert match[1] not in entries, f"duplicate {match[1]}"
        entries[match[1]] = match[2]
    raise AssertionError(f"var {var} is not closed")


def literal(expression: str) -> str | None:
    """The value of a plain Bicep string literal ('...' without interpolation), else None."""
    match = re.fullmatch(r"'([^'\\$]*)'", expression)
    return match[1] if match else None


def blocks(text: str, header: str) -> list[str]:
    """Each declaration whose first line matches the regex ``header``, from that line to the
    bracket that closes it (``{}`` and ``[]`` counted together, comments ignored)."""
    lines = text.splitlines()
    found = []
    for start, line in enumerate(lines):
        if not re.match(header, line):
            continue
        depth, opened, body = 0, False, []
        for current in lines[start:]:
            body.append(current)
            code = strip_comment(current)
            depth += code.count("{") + code.count("[") - code.count("}") - code.count("]")
            opened = opened or "{" in code or "[" in code
            if opened and depth == 0:
                break
        assert opened and depth == 0, f"unbalanced declaration at {line!r}"
        found.append("\n".join(body))
    return found


def properties(block: str) -> dict[str, str]:
    """``key: value`` lines of a declaration, at any depth (keys used here are unique)."""
    code = "\n".join(strip_comment(line) for line in block.splitlines())
    return {m[1]: m[2].strip() for m in re.finditer(r"^\s*([A-Za-z_]\w*)\s*:\s*(\S[^\n]*)$", code, re.MULTILINE)}


def module(name: str) -> str:
    """The ``module <name> ... = {...}`` declaration of main.bicep."""
    (found,) = blocks(MAIN_BICEP.read_text(), rf"module {name} '")
    return found


def mini_yaml(text: str) -> dict:
    """Parse the YAML subset azure.yaml uses: nested mappings of ``key: scalar`` by
    indentation, comments and blank lines; no lists, anchors or multi-line scalars."""
    root: dict = {}
    stack: list[tuple[int, dict]] = [(-1, root)]
    for line in text.splitlines():
        content = line.split(" #")[0].rstrip() if not line.lstrip().startswith("#") else ""
        if not content.strip():
            continue
        indent = len(content) - len(content.lstrip())
        match = re.fullmatch(r"([\w.-]+):(?:\s+(.*))?", content.strip())
        assert match, f"unsupported YAML line: {line!r}"
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if match[2] is None:
            parent[match[1]] = {}
            stack.append((indent, parent[match[1]]))
        else:
            parent[match[1]] = match[2].strip().strip("'\"")
    return root


# --- Fixtures ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def app_settings() -> dict[str, str]:
    return bicep_object(FUNCTION_APP_BICEP.read_text(), "appSettings")


@pytest.fixture(scope="module")
def blob_trigger() -> tuple[str, dict]:
    """(function name, trigger binding) of the app's one blob trigger, as the host indexes it."""
    from function_app import app
    from kanta.local.host import index_functions

    triggers = [(fn.get_function_name(), binding) for fn in index_functions(app)
                for binding in json.loads(fn.get_function_json())["bindings"] if binding["type"] == "blobTrigger"]
    assert len(triggers) == 1, triggers
    return triggers[0]


def code_aliases() -> dict[str, tuple[str, str]]:
    """Lower-cased setting name -> (Settings field, name as written) for every environment
    name kanta.config.Settings reads: its validation aliases, else ``env_prefix`` and the
    field's name (pydantic-settings reads them case-insensitively)."""
    prefix = Settings.model_config["env_prefix"]
    aliases = {}
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            choices = [f"{prefix}{field_name}".upper()]
        else:
            choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        for choice in choices:
            if isinstance(choice, str):
                aliases[choice.lower()] = (field_name, choice)
    return aliases


# --- App settings: the contract with kanta/config.py ----------------------------------------

def test_every_kanta_setting_is_one_the_code_reads(app_settings):
    read = set(code_aliases()) | {f"{STORAGE_CONNECTION}__{s}".lower() for s in BINDING_SUFFIXES}
    unknown = [name for name in app_settings if name.upper().startswith("KANTA_") and name.lower() not in read]
    assert not unknown, f"app settings no code reads: {unknown}"


def test_settings_the_code_needs_in_azure_are_present(app_settings):
    required = {
        "KANTA_DATABASE_URL", "KANTA_DATABASE_AUTH", "KANTA_DATABASE_CLIENT_ID",
        "KANTA_STORAGE__blobServiceUri", "KANTA_STORAGE__queueServiceUri", "KANTA_STORAGE__clientId",
        "KANTA_STORAGE__credential", "KANTA_BLOB_TRIGGER_SOURCE", "KANTA_RECLUSTER_SCHEDULE",
        "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId", "AzureWebJobsStorage__blobServiceUri",
        "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri",
        "APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    }
    assert required <= set(app_settings), sorted(required - set(app_settings))
    assert literal(app_settings["KANTA_BLOB_TRIGGER_SOURCE"]) == "EventGrid"
    assert literal(app_settings["KANTA_DATABASE_AUTH"]) == "entra"
    for connection in ("KANTA_STORAGE", "AzureWebJobsStorage"):
        assert literal(app_settings[f"{connection}__credential"]) == "managedidentity"
    # The Flex Consumption platform rejects these; the runtime is in functionAppConfig.
    assert not {"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"} & set(app_settings)


def test_literal_values_validate_against_the_settings_fields(app_settings, monkeypatch):
    aliases = code_aliases()
    checked = 0
    for name, expression in app_settings.items():
        value = literal(expression)
        if value is None or name.lower() not in aliases:
            continue
        field_name, _ = aliases[name.lower()]
        monkeypatch.setenv(name, value)  # read as the Function App reads it
        try:
            settings = Settings()
        except ValidationError as error:
            pytest.fail(f"{name}={value!r} is rejected by Settings.{field_name}: {error}")
        assert str(getattr(settings, field_name)) == value, name
        checked += 1
    assert checked >= 3  # KANTA_BLOB_TRIGGER_SOURCE, KANTA_DATABASE_AUTH, KANTA_RECLUSTER_SCHEDULE


def test_database_url_is_passwordless_entra(app_settings):
    url = app_settings["KANTA_DATABASE_URL"]
    for part in ("host=${postgresHost}", "port=5432", "user=${identityName}", "sslmode=require"):
        assert part in url, part
    assert app_settings["KANTA_DATABASE_CLIENT_ID"] == app_settings["KANTA_STORAGE__clientId"] == "identityClientId"


def test_blob_trigger_connection_is_identity_based(app_settings, blob_trigger):
    _, binding = blob_trigger
    connection = binding["connection"]
    for suffix in BINDING_SUFFIXES:
        assert f"{connection}__{suffix}" in app_settings, f"{connection}__{suffix}"
    assert connection not in app_settings  # a connection string would take precedence


def test_no_keys_passwords_or_sas_anywhere(app_settings):
    forbidden = ("accountkey", "sharedaccesssignature", "password", "listkeys", "sig=", "instrumentationkey")
    for name, value in app_settings.items():
        for word in forbidden:
            assert word not in name.lower() and word not in value.lower(), (name, value)
    # The connection string does carry an InstrumentationKey; it is only an ingestion
    # address once local auth is disabled and telemetry is sent with an Entra token.
    assert app_settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] == "appInsights.properties.ConnectionString"
    authentication = app_settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    assert authentication == "'ClientId=${identityClientId};Authorization=AAD'"
    assert properties(module("appInsights"))["disableLocalAuth"] == "true"
    for path in INFRA.rglob("*.bicep"):
        text = path.read_text()
        for word in ("listKeys(", "AccountKey=", "SharedAccessKey", "DefaultEndpointsProtocol",
                     "administratorLoginPassword", "@secure()"):
            assert word not in text, (path.name, word)


def test_every_storage_account_is_keyless():
    accounts = [block for path in INFRA.rglob("*.bicep")
                for block in blocks(path.read_text(), r"resource \w+ 'Microsoft\.Storage/storageAccounts@[^']+' = ")]
    assert accounts, "no storage account resource found"
    for block in accounts:
        props = properties(block)
        assert props.get("allowSharedKeyAccess") == "false", block
        assert props.get("allowBlobPublicAccess") == "false"
        assert props.get("minimumTlsVersion") == "'TLS1_2'"
    # Both accounts are that one resource; no other storage module is used.
    main = MAIN_BICEP.read_text()
    assert main.count("'app/storage-account.bicep'") == 2
    assert "avm/res/storage" not in main


def test_uploads_account_containers_cors_and_lifecycle():
    uploads = module("uploadsStorage")
    assert re.search(r"containers: \[\s*uploadsContainer\s*facesContainer\s*\]", uploads)
    assert re.search(r"var uploadsContainer = '(\w+)'", MAIN_BICEP.read_text())[1] == UPLOADS_CONTAINER
    # The guest page's own origin, then the deployer's.
    assert properties(uploads)["allowedOrigins"] == "union([appOrigin], allowedOrigins)"
    main = MAIN_BICEP.read_text()
    assert "var appOrigin = 'https://${functionAppName}.azurewebsites.net'" in main
    assert properties(module("functionApp"))["name"] == "functionAppName"
    assert properties(uploads)["lifecycleDeleteAfterDays"] == "uploadRetentionDays"
    assert properties(uploads)["publicNetworkAccess"] == "'Enabled'"  # browsers upload to it
    storage = (INFRA / "app" / "storage-account.bicep").read_text()
    for method in ("'PUT'", "'GET'", "'HEAD'", "'OPTIONS'"):
        assert method in storage
    assert "daysAfterCreationGreaterThan: lifecycleDeleteAfterDays" in storage


def test_postgres_is_entra_only_with_pgvector():
    text = (INFRA / "app" / "postgres.bicep").read_text()
    (server,) = blocks(text, r"resource \w+ 'Microsoft\.DBforPostgreSQL/flexibleServers@[^']+' = ")
    props = properties(server)
    assert props["passwordAuth"] == "'Disabled'"
    assert props["activeDirectoryAuth"] == "'Enabled'"
    assert props["version"] == "'16'"
    assert "administratorLogin" not in props
    (extensions,) = blocks(text, r"resource extensions ")
    assert properties(extensions)["name"] == "'azure.extensions'"
    assert properties(extensions)["value"] == "'VECTOR'"


# --- Role assignments -----------------------------------------------------------------------

def role_assignments() -> dict[str, set[str]]:
    """Scope ('uploads', 'host', 'appInsights') -> role GUIDs assigned to the identity in
    app/rbac.bicep, after checking each assignment's principal and principal type."""
    text = RBAC_BICEP.read_text()
    role_lists = {m[1]: {g.lower() for g in GUID.findall(block)}
                  for block in blocks(text, r"var \w+RoleIds = \[")
                  for m in [re.match(r"var (\w+) =", block)]}
    existing = {}
    for block in blocks(text, r"resource \w+ '[^']+' existing = "):
        m = re.match(r"resource (\w+) '([^@']+)@", block)
        existing[m[1]] = (m[2], properties(block)["name"])
    scope_of = {
        ("Microsoft.Storage/storageAccounts", "uploadsAccountName"): "uploads",
        ("Microsoft.Storage/storageAccounts", "hostAccountName"): "host",
        ("Microsoft.Insights/components", "appInsightsName"): "appInsights",
    }
    assigned: dict[str, set[str]] = {}
    assignments = blocks(text, r"resource \w+ 'Microsoft\.Authorization/roleAssignments@[^']+' = ")
    assert assignments
    for block in assignments:
        props = properties(block)
        assert props["principalId"] == "principalId" and props["principalType"] == "'ServicePrincipal'"
        roles = role_lists[re.search(r"for roleId in (\w+):", block)[1]]
        assert "subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)" in props["roleDefinitionId"]
        assigned.setdefault(scope_of[existing[props["scope"]]], set()).update(roles)
    return assigned


def test_role_assignments_are_the_required_ones():
    assert role_assignments() == {
        "uploads": {BLOB_DATA_OWNER, QUEUE_DATA_CONTRIBUTOR, BLOB_DELEGATOR},
        "host": {BLOB_DATA_OWNER, QUEUE_DATA_CONTRIBUTOR, TABLE_DATA_CONTRIBUTOR},
        "appInsights": {MONITORING_METRICS_PUBLISHER},
    }
    # ...for the app's identity on the right accounts.
    rbac = properties(module("rbac"))
    assert rbac["principalId"] == "identity.outputs.principalId"
    assert rbac["uploadsAccountName"] == "uploadsStorage.outputs.name"
    assert rbac["hostAccountName"] == "hostStorage.outputs.name"
    assert rbac["appInsightsName"] == "appInsights.outputs.name"


def test_no_broad_role_anywhere():
    for path in INFRA.rglob("*.bicep"):
        text = path.read_text()
        for guid in GUID.findall(text):
            assert guid.lower() not in TOO_BROAD, (path.name, TOO_BROAD[guid.lower()])
        for name in TOO_BROAD.values():
            assert f"'{name}'" not in text, (path.name, name)


# --- Hooks and azd --------------------------------------------------------------------------

def script_constants(path: Path) -> dict[str, str]:
    """``NAME=value`` assignments at the start of a line of a shell script."""
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(\S+)$", path.read_text(), re.MULTILINE))


def test_event_grid_hook_targets_the_blob_trigger(blob_trigger, app_settings):
    function_name, binding = blob_trigger
    script = (HOOKS / "postdeploy.sh").read_text()
    constants = script_constants(HOOKS / "postdeploy.sh")
    assert constants["BLOB_FUNCTION_NAME"] == function_name
    assert constants["UPLOADS_CONTAINER"] == UPLOADS_CONTAINER
    assert binding["path"].startswith(UPLOADS_CONTAINER + "/")
    assert "/runtime/webhooks/blobs?functionName=Host.Functions.${BLOB_FUNCTION_NAME}&code=${blobs_key}" in script
    assert '--query "systemKeys.blobs_extension"' in script
    assert "--endpoint-type webhook" in script
    assert "--included-event-types Microsoft.Storage.BlobCreated" in script
    assert '--subject-begins-with "/blobServices/default/containers/${UPLOADS_CONTAINER}/"' in script
    # The system topic it subscribes to watches the uploads account.
    topic = properties(module("uploadsSystemTopic"))
    assert topic["source"] == "uploadsStorage.outputs.id"
    assert topic["topicType"] == "'Microsoft.Storage.StorageAccounts'"
    assert literal(app_settings["KANTA_BLOB_TRIGGER_SOURCE"]) == "EventGrid"


def test_event_grid_blob_source_needs_bundle_4():
    bundle = json.loads((ROOT / "host.json").read_text())["extensionBundle"]
    assert bundle == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.0.0, 5.0.0)"}


def test_postdeploy_migrations_endpoint_exists():
    """The hook POSTs /api/migrations with the master key: the app must route it."""
    from function_app import app
    from kanta.local.host import index_functions

    script = (HOOKS / "postdeploy.sh").read_text()
    assert '"$app_url/api/migrations"' in script and '-H "x-functions-key: $master_key"' in script
    routes = [(b.get("route"), [m.upper() for m in b.get("methods") or []])
              for fn in index_functions(app) for b in json.loads(fn.get_function_json())["bindings"]
              if b["type"] == "httpTrigger"]
    assert any(route == "migrations" and "POST" in methods for route, methods in routes), routes


def test_hooks_only_use_outputs_or_azd_values():
    outputs = set(re.findall(r"^output (\w+) ", MAIN_BICEP.read_text(), re.MULTILINE))
    provided_by_azd_or_user = {"AZURE_PRINCIPAL_ID", "AZURE_PRINCIPAL_TYPE", "AZURE_PRINCIPAL_NAME",
                               "AZURE_CLIENT_IP_ADDRESS", "KANTA_DETECT_CLIENT_IP"}
    for path in HOOKS.glob("*.sh"):
        used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", path.read_text()))
        missing = used - outputs - provided_by_azd_or_user - set(script_constants(path))
        assert not missing, (path.name, missing)
    grant = (HOOKS / "grant_database_access.py").read_text()
    used = set(re.findall(r'option\("--[\w-]+", "([A-Z_]+)"', grant))
    assert used and not used - outputs - provided_by_azd_or_user, used


def test_parameters_file_matches_main_bicep():
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    # param name -> whether it has a default value.
    declared = {name: bool(default)
                for name, default in re.findall(r"^param (\w+) \w+( =)?", MAIN_BICEP.read_text(), re.MULTILINE)}
    assert set(params) <= set(declared), set(params) - set(declared)
    required = {name for name, has_default in declared.items() if not has_default}
    assert required <= set(params), required - set(params)
    assert params["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"
    assert params["principalName"]["value"] == "${AZURE_PRINCIPAL_NAME}"
    assert params["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert params["location"]["value"] == "${AZURE_LOCATION}"


def test_azure_yaml_declares_the_service_and_hooks():
    config = mini_yaml((ROOT / "azure.yaml").read_text())
    assert config["name"] == "kanta"
    assert config["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert config["services"] == {"api": {"project": ".", "language": "python", "host": "function"}}
    assert set(config["hooks"]) == {"preprovision", "postprovision", "postdeploy"}
    for name, hook in config["hooks"].items():
        assert hook["shell"] == "sh" and hook["run"] == f"infra/hooks/{name}.sh"
        assert (ROOT / hook["run"]).is_file()
    (site,) = blocks(FUNCTION_APP_BICEP.read_text(), r"resource functionApp ")
    assert "'azd-service-name': 'api'" in site  # how azd finds the app of service "api"


# --- The database hook's logic (no server needed) -------------------------------------------

def load_grant_module():
    spec = importlib.util.spec_from_file_location("grant_database_access", HOOKS / "grant_database_access.py")
    module_ = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module_)
    return module_


def test_grant_hook_arguments_default_to_the_azd_environment():
    grant = load_grant_module()
    env = {"POSTGRES_HOST": "psql.example", "AZURE_PRINCIPAL_NAME": "me@example.com",
           "AZURE_IDENTITY_NAME": "id-kanta-x", "AZURE_IDENTITY_PRINCIPAL_ID": "0000"}
    args = grant.parse_args([], env)
    assert (args.host, args.admin_user, args.identity_name, args.identity_object_id, args.database) == (
        "psql.example", "me@example.com", "id-kanta-x", "0000", "kanta")
    with pytest.raises(SystemExit):
        grant.parse_args([], {})


def test_grant_hook_creates_the_role_once_and_quotes_it():
    grant = load_grant_module()

    class Connection:
        def __init__(self, role_exists: bool) -> None:
            self.role_exists, self.calls = role_exists, []

        def execute(self, query, params=None):
            self.calls.append((query, params))
            return self

        def fetchone(self):
            return (1,) if self.role_exists else None

    fresh = Connection(role_exists=False)
    assert grant.ensure_principal(fresh, "id-kanta-x", "oid") is True
    assert "pgaadauth_create_principal_with_oid(%s, %s, 'service', false, false)" in fresh.calls[1][0]
    assert fresh.calls[1][1] == ("id-kanta-x", "oid")
    existing = Connection(role_exists=True)
    assert grant.ensure_principal(existing, "id-kanta-x", "oid") is False
    assert len(existing.calls) == 1
    statements = [s.as_string(None) for s in grant.grant_statements("kanta", "id-kanta-x")]
    assert statements == [
        "CREATE EXTENSION IF NOT EXISTS vector",
        'GRANT CONNECT, TEMPORARY ON DATABASE "kanta" TO "id-kanta-x"',
        'GRANT USAGE, CREATE ON SCHEMA public TO "id-kanta-x"',
    ]
