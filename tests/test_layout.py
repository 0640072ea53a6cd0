"""The layout's promises, checked on the source: packages depend on each other in one direction,
library code never reaches into tests/ or the run scripts, the property names are written once,
and no library module looks like a test file to pytest."""
import ast
import fnmatch
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ('common', 'scores', 'data', 'segmentation', 'property_score_cnn', 'stylegan', 'base_training',
            'vectorfind', 'finetune_v5', 'characters', 'judge')
LIBRARY = PACKAGES + ('benchmarks',)
NOT_LIBRARY = {'tests', 'run_stylegan_vectorfind_v6', 'run_stylegan_finetune_v5', 'linear_scores',
               'random_world'}


def python_files(folder):
    for root, _, names in os.walk(os.path.join(REPO, folder)):
        for name in sorted(names):
            if name.endswith('.py'):
                yield os.path.join(root, name)


def imported_modules(path):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def package_graph():
    """{package: the other packages its modules import}."""
    graph = {}
    for package in PACKAGES:
        used = {module.split('.')[0] for path in python_files(package) for module in imported_modules(path)}
        graph[package] = (used & set(PACKAGES)) - {package}
    return graph


def find_cycle(graph):
    state, path = {}, []

    def visit(node):
        state[node] = 'open'
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 'open':
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 'done'
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_packages_import_each_other_without_a_cycle():
    graph = package_graph()
    assert find_cycle(graph) is None, f'import cycle: {" -> ".join(find_cycle(graph))}'
    assert graph['common'] == set(), 'common/ is the bottom layer'


def test_the_generator_package_holds_models_only():
    """The most reused model sits low: it knows nothing of scores, the world or any training."""
    assert package_graph()['stylegan'] <= {'common'}


def test_the_two_jobs_stay_apart():
    """VectorFind and FineTune-v5 are two methods over the same models; the one arrow between
    them is FineTune-v5's label warm start, which is VectorFind's least-squares fit (its docstring
    says why)."""
    assert 'finetune_v5' not in package_graph()['vectorfind']
    importers = {os.path.relpath(path, REPO) for path in python_files('finetune_v5')
                 if any(module.split('.')[0] == 'vectorfind' for module in imported_modules(path))}
    assert importers == {os.path.join('finetune_v5', 'label_warm_start.py')}


def test_common_holds_infrastructure_only():
    """No property vocabulary in common/: the names, the score table and leakage live in scores/."""
    assert package_graph()['scores'] <= {'common'}


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']


def test_library_code_never_imports_tests_or_run_scripts():
    offenders = [(os.path.relpath(path, REPO), module)
                 for folder in LIBRARY for path in python_files(folder)
                 for module in imported_modules(path) if module.split('.')[0] in NOT_LIBRARY]
    assert offenders == []


def test_property_names_are_written_once():
    """A tuple of property-name strings naming both eyes and pose stands only in scores/properties.py."""
    places = []
    for folder in LIBRARY:
        for path in python_files(folder):
            for node in ast.walk(ast.parse(open(path).read(), path)):
                if isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) for e in node.elts):
                    values = {e.value for e in node.elts}
                    if {'eyes', 'pose'} <= values:
                        places.append(os.path.relpath(path, REPO))
    assert set(places) == {os.path.join('scores', 'properties.py')}


def test_no_library_module_is_collected_as_a_test():
    looks_like_a_test = [os.path.relpath(path, REPO) for folder in LIBRARY for path in python_files(folder)
                         if fnmatch.fnmatch(os.path.basename(path), 'test_*.py')
                         or fnmatch.fnmatch(os.path.basename(path), '*_test.py')]
    assert looks_like_a_test == []


def parameter_count(function):
    """Parameters a caller passes: every named and starred one, less `self` or `cls`."""
    args = function.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    if names and names[0] in ('self', 'cls'):
        names = names[1:]
    return len(names) + (args.vararg is not None) + (args.kwarg is not None)


def test_no_library_function_takes_more_than_seven_parameters():
    """A bundle passed by hand (generator, CNN, code, directions, space, device, ...) is an object
    waiting to be named: the edit rule, the settings."""
    crowded = [f'{os.path.relpath(path, REPO)}:{node.lineno} {node.name}'
               for folder in LIBRARY for path in python_files(folder)
               for node in ast.walk(ast.parse(open(path).read(), path))
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and parameter_count(node) > 7]
    assert crowded == []


def test_the_parameter_count_counts_what_a_caller_passes():
    function = ast.parse('def f(self, a, b=1, *rest, c, **named): pass').body[0]
    assert parameter_count(function) == 5
