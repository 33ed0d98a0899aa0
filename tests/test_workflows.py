"""nbdev's two GitHub Actions workflows, read with a YAML parser: what they run, when, and where the site goes.

`.github/workflows/test.yaml` runs the README's test command on every push and pull request; `deploy.yaml` renders the
site with Quarto installed by Quarto's own action, checks it, and publishes `_docs/` on GitHub Pages.
"""
import re, tomllib
from pathlib import Path
import pytest, yaml    # PyYAML: a dependency of nbdev

ROOT = Path(__file__).resolve().parents[1]
WF = ROOT/'.github'/'workflows'
README = (ROOT/'README.md').read_text()

def load(name):
    path = WF/name
    assert path.exists(), f'{path} is missing'
    wf = yaml.safe_load(path.read_text())
    wf['on'] = wf.pop(True, wf.get('on'))    # YAML 1.1 reads a bare `on:` key as true
    return wf

def steps(wf): return [s for job in wf['jobs'].values() for s in job.get('steps', [])]
def runs(wf): return [s['run'].strip() for s in steps(wf) if 'run' in s]
def uses(wf, action): return [s for s in steps(wf) if s.get('uses', '').split('@')[0] == action]

def triggers(wf):
    on = wf['on']
    return {on} if isinstance(on, str) else set(on)

def readme_test_command():
    "The command in the README's 'Test it' section."
    m = re.search(r'^## Test it\n.*?```sh\n(.*?)\n```', README, re.S | re.M)
    assert m, "README.md has no ```sh block under '## Test it'"
    return m.group(1).strip()

def test_test_workflow_runs_the_readme_test_command_on_every_push():
    wf = load('test.yaml')
    assert {'push', 'pull_request'} <= triggers(wf), triggers(wf)
    assert readme_test_command() in runs(wf), f'test.yaml runs {runs(wf)}, the README says {readme_test_command()!r}'
    assert uses(wf, 'actions/checkout') and uses(wf, 'actions/setup-python')
    need = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['requires-python']
    for s in uses(wf, 'actions/setup-python'):
        have = tuple(map(int, str(s['with']['python-version']).split('.')[:2]))
        assert have >= tuple(map(int, need.lstrip('>=').split('.')[:2])), f'Python {have} is below {need}'

def test_deploy_workflow_renders_checks_and_publishes_the_site():
    wf = load('deploy.yaml')
    branch = yaml.safe_load((ROOT/'nbs'/'nbdev.yml').read_text())['website']['repo-branch']
    assert 'push' in triggers(wf) and branch in wf['on']['push']['branches'], wf['on']
    assert uses(wf, 'quarto-dev/quarto-actions/setup'), 'Quarto is installed by its own action'
    r = runs(wf)
    assert 'make docs' in r and 'make docstest' in r and r.index('make docs') < r.index('make docstest'), r
    docstest = next(s for s in steps(wf) if s.get('run', '').strip() == 'make docstest')
    assert docstest.get('env', {}).get('AMA_DOCS_REQUIRED') == '1', 'the docs test must not skip there'
    doc_path = tomllib.loads((ROOT/'pyproject.toml').read_text())['tool']['nbdev']['doc_path']
    upload = uses(wf, 'actions/upload-pages-artifact')
    assert upload and upload[0]['with']['path'] == doc_path, upload
    assert uses(wf, 'actions/deploy-pages')
    assert wf['permissions'].get('pages') == 'write' and wf['permissions'].get('id-token') == 'write'

@pytest.mark.parametrize('name', ['test.yaml', 'deploy.yaml'])
def test_workflows_stand_alone(name):
    "A fork's runner has only the repository: no path outside it."
    text = (WF/name).read_text()
    assert 'shared/' not in text and '../' not in text

def test_readme_names_the_workflows():
    for name in ('test.yaml', 'deploy.yaml'): assert f'.github/workflows/{name}' in README
