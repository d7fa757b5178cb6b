#!/usr/bin/env python3
"""xgb_to_lgbm.py: an XGBoost model rewritten as a LightGBM v4 text model with the same trees.

For make bench (bench/bench-inner.sh), which needs a LightGBM model of exactly
the size and shape of an XGBoost one to compare their per-row cost, on a
machine without LightGBM.  Python 3 standard library only.

    bench/xgb_to_lgbm.py MODEL [--features f0,f1,...] [-o OUT]

MODEL is an XGBoost model as fraud_score stores or exports it: UBJSON
(fraud_score_models.model; base64-decoded fraud_model_export(name)->>
'model_ubj_base64'), XGBoost's JSON, or the fraud_model_export document
itself.  The text goes to OUT, or to standard output.

Each reachable XGBoost split (split_indices, split_conditions, default_left)
becomes a LightGBM numerical split: threshold = the condition (the float's
exact value, Python's repr of the double), decision_type = 8 | (2 if
default_left): missing type NaN, with XGBoost's default direction.  Internal
nodes are numbered 0..n-1 and leaves 0..L-1 in XGBoost node-id order
(children come after their parents there, as LightGBM needs); a child is its
internal index, or ~leaf for a leaf.  Leaves keep their values (times the
tree's weight_drop for dart).  Feature names: --features, else the model's
feature_names, else XGBoost's defaults f0..fN-1.

The twin is not bit-for-bit the same model: LightGBM sends a value equal to
the threshold left where XGBoost sends it right, and compares doubles where
XGBoost compares floats.  A base_score other than 0.5 (a margin other than 0)
is added to the first tree's leaves, since LightGBM has no base score.
Categorical splits, multi-class models and non-logistic objectives are
refused.
"""

import argparse
import base64
import json
import math
import struct
import sys


class UbjError(ValueError):
    pass


class Ubj:
    """A small UBJSON reader: what XGBoost writes (and what the spec allows besides)."""

    INTS = {'i': ('>b', 1), 'U': ('>B', 1), 'I': ('>h', 2), 'l': ('>i', 4), 'L': ('>q', 8)}
    FLOATS = {'d': ('>f', 4), 'D': ('>d', 8)}

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def byte(self):
        if self.pos >= len(self.data):
            raise UbjError('truncated UBJSON at byte %d' % self.pos)
        c = chr(self.data[self.pos])
        self.pos += 1
        return c

    def marker(self):
        c = self.byte()
        while c == 'N':  # no-op
            c = self.byte()
        return c

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise UbjError('truncated UBJSON at byte %d' % self.pos)
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def number(self, m):
        fmt, n = self.INTS.get(m) or self.FLOATS[m]
        return struct.unpack(fmt, self.take(n))[0]

    def length(self):
        m = self.marker()
        if m not in self.INTS:
            raise UbjError('length marker %r at byte %d' % (m, self.pos - 1))
        n = self.number(m)
        if n < 0:
            raise UbjError('negative length at byte %d' % self.pos)
        return n

    def string(self):
        return self.take(self.length()).decode('utf-8')

    def value(self, m=None):
        if m is None:
            m = self.marker()
        if m in self.INTS or m in self.FLOATS:
            return self.number(m)
        if m == 'S':
            return self.string()
        if m == 'H':  # high-precision number, as a string
            s = self.string()
            return float(s) if any(c in s for c in '.eE') else int(s)
        if m == 'C':
            return chr(self.number('U'))
        if m == 'T':
            return True
        if m == 'F':
            return False
        if m == 'Z':
            return None
        if m == '[':
            return self.container(']', self.array_items)
        if m == '{':
            return self.container('}', self.object_items)
        raise UbjError('marker %r at byte %d' % (m, self.pos - 1))

    def container(self, close, items):
        """[ or { already read: optional $type, optional #count, then the items."""
        typ = None
        count = None
        m = self.marker()
        if m == '$':
            typ = self.byte()
            m = self.marker()
            if m != '#':
                raise UbjError('$type without #count at byte %d' % (self.pos - 1))
        if m == '#':
            count = self.length()
        else:
            self.pos -= 1
        return items(close, typ, count)

    def array_items(self, close, typ, count):
        if count is not None and typ is not None and (typ in self.INTS or typ in self.FLOATS):
            fmt, n = self.INTS.get(typ) or self.FLOATS[typ]
            return list(struct.unpack('>%d%s' % (count, fmt[1]), self.take(count * n)))
        out = []
        if count is not None:
            for _ in range(count):
                out.append(self.value(typ))
            return out
        while True:
            m = self.marker()
            if m == close:
                return out
            out.append(self.value(m))

    def object_items(self, close, typ, count):
        out = {}
        if count is not None:
            for _ in range(count):
                k = self.string()
                out[k] = self.value(typ)
            return out
        while True:
            m = self.marker()
            if m == close:
                return out
            self.pos -= 1
            k = self.string()
            out[k] = self.value()


def read_model(data):
    """The XGBoost model document from UBJSON, JSON or a fraud_model_export document."""
    doc = None
    try:
        doc = json.loads(data.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        pass
    if doc is None:
        r = Ubj(data)
        doc = r.value()
        if r.pos != len(data):
            raise UbjError('%d bytes after the UBJSON value' % (len(data) - r.pos))
    if isinstance(doc, dict) and 'model_ubj_base64' in doc:
        return read_model(base64.b64decode(doc['model_ubj_base64']))
    if isinstance(doc, dict) and 'model_text' in doc:
        sys.exit('xgb_to_lgbm: that is already a LightGBM model (fraud_model_export of a LightGBM version)')
    if not isinstance(doc, dict) or 'learner' not in doc:
        sys.exit('xgb_to_lgbm: not an XGBoost model (no "learner")')
    return doc


def f32(x):
    """x as the float XGBoost keeps (a JSON model's decimals are the float's shortest form)."""
    return struct.unpack('<f', struct.pack('<f', float(x)))[0]


def convert(doc, features=None):
    learner = doc['learner']
    lmp = learner.get('learner_model_param', {})
    objective = learner.get('objective', {}).get('name', 'binary:logistic')
    if objective not in ('binary:logistic', 'reg:logistic'):
        sys.exit('xgb_to_lgbm: objective %s; only binary:logistic and reg:logistic become "binary sigmoid:1"'
                 % objective)
    if int(lmp.get('num_class', '0')) > 1 or int(lmp.get('num_target', '1')) > 1:
        sys.exit('xgb_to_lgbm: multi-class or multi-target models are not converted')
    gb = learner['gradient_booster']
    weights = None
    if gb.get('name') == 'dart':
        weights = gb.get('weight_drop')
        gb = gb['gbtree']
    if gb.get('name', 'gbtree') != 'gbtree':
        sys.exit('xgb_to_lgbm: booster %s is not a tree booster' % gb.get('name'))
    trees = gb['model']['trees']
    if not trees:
        sys.exit('xgb_to_lgbm: the model has no trees')
    num_feature = int(lmp.get('num_feature', '0'))
    if features is None:
        features = learner.get('feature_names') or ['f%d' % i for i in range(num_feature)]
    num_feature = max(num_feature, len(features))
    if len(features) != num_feature:
        sys.exit('xgb_to_lgbm: %d feature names for %d features' % (len(features), num_feature))
    for name in features:
        if not name or any(c.isspace() for c in name):
            sys.exit('xgb_to_lgbm: feature name %r (LightGBM separates names by spaces)' % name)
    base_score = float(lmp.get('base_score', '0.5'))
    if not 0 < base_score < 1:
        sys.exit('xgb_to_lgbm: base_score %r is not a probability' % base_score)
    base_margin = math.log(base_score / (1 - base_score))

    out = ['tree', 'version=v4', 'num_class=1', 'num_tree_per_iteration=1', 'label_index=0',
           'max_feature_idx=%d' % (num_feature - 1), 'objective=binary sigmoid:1',
           'feature_names=' + ' '.join(features),
           'feature_infos=' + ' '.join(['[-1e300:1e300]'] * num_feature), '']
    for k, t in enumerate(trees):
        left, right = t['left_children'], t['right_children']
        cond, index = t['split_conditions'], t['split_indices']
        default_left = t['default_left']
        split_type = t.get('split_type') or [0] * len(left)
        scale = f32(weights[k]) if weights else 1.0
        # The nodes reachable from the root (pruned ones may linger), in id order.
        reach, stack = [], [0]
        while stack:
            n = stack.pop()
            reach.append(n)
            if left[n] != -1:
                if not (n < left[n] < len(left) and n < right[n] < len(left)):
                    sys.exit('xgb_to_lgbm: tree %d: node %d has children %d and %d' % (k, n, left[n], right[n]))
                stack += [left[n], right[n]]
        reach.sort()
        internal = [n for n in reach if left[n] != -1]
        leaves = [n for n in reach if left[n] == -1]
        inode = {n: i for i, n in enumerate(internal)}
        leaf = {n: i for i, n in enumerate(leaves)}

        def child(c):
            return inode[c] if c in inode else ~leaf[c]

        for n in internal:
            if split_type[n] != 0:
                sys.exit('xgb_to_lgbm: tree %d has categorical splits' % k)
            if not 0 <= index[n] < num_feature:
                sys.exit('xgb_to_lgbm: tree %d splits on feature %d of %d' % (k, index[n], num_feature))
        values = [f32(cond[n]) * scale + (base_margin if k == 0 else 0.0) for n in leaves]
        ni, nl = len(internal), len(leaves)
        zi, zl = ' '.join(['0'] * ni), ' '.join(['0'] * nl)
        # XGBoost's covers as LightGBM's counts: fraud_explain weighs branches by them.
        hess = t['sum_hessian']
        ci = ' '.join(repr(f32(hess[n])) for n in internal)
        cl = ' '.join(repr(f32(hess[n])) for n in leaves)
        out += ['Tree=%d' % k, 'num_leaves=%d' % nl, 'num_cat=0',
                'split_feature=' + ' '.join(str(index[n]) for n in internal),
                'split_gain=' + zi,
                'threshold=' + ' '.join(repr(f32(cond[n])) for n in internal),
                'decision_type=' + ' '.join(str(8 | (2 if default_left[n] else 0)) for n in internal),
                'left_child=' + ' '.join(str(child(left[n])) for n in internal),
                'right_child=' + ' '.join(str(child(right[n])) for n in internal),
                'leaf_value=' + ' '.join(repr(v) for v in values),
                'leaf_weight=' + zl, 'leaf_count=' + cl,
                'internal_value=' + zi, 'internal_weight=' + zi, 'internal_count=' + ci,
                'is_linear=0', 'shrinkage=1', '']
    out += ['end of trees', '', 'pandas_categorical:null', '']
    return '\n'.join(out)


def main():
    p = argparse.ArgumentParser(description='Rewrite an XGBoost model (UBJSON or JSON) as a LightGBM v4 '
                                'text model with the same trees.')
    p.add_argument('model', help='XGBoost UBJSON or JSON model, or a fraud_model_export document ("-": stdin)')
    p.add_argument('--features', help='comma-separated feature names (default: the model\'s)')
    p.add_argument('-o', '--output', help='output file (default: standard output)')
    a = p.parse_args()
    data = sys.stdin.buffer.read() if a.model == '-' else open(a.model, 'rb').read()
    try:
        doc = read_model(data)
    except (UbjError, KeyError, struct.error) as e:
        sys.exit('xgb_to_lgbm: cannot read %s: %s' % (a.model, e))
    text = convert(doc, a.features.split(',') if a.features else None)
    if a.output:
        with open(a.output, 'w', encoding='utf-8') as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == '__main__':
    main()
