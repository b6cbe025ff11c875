// The fold kernel of @troupe/stats as a native addon (a measured trial): rules R2–R7 over the
// rows the TypeScript fold linked, for every touched dimension of one resolve. The same
// arithmetic in the same order as src/fold.ts and src/cap-merge.ts, with JavaScript's
// Math.min/Math.max semantics for ±0; built with -ffp-contract=off (no fused multiply-add).
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <limits>

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Arrays {
  // Rows.
  double* values = nullptr;
  double* priorities = nullptr;
  int32_t* next = nullptr;
  int32_t* systemRank = nullptr;
  // Cells.
  int32_t* cellHead = nullptr;
  int32_t* cellCount = nullptr;
  // Caps.
  int32_t* capHead = nullptr;
  int32_t* capNext = nullptr;
  int32_t* capTotal = nullptr;
  int32_t* capLayers = nullptr;
  int32_t* capRank = nullptr;
  int32_t* capIsMax = nullptr;
  double* capValue = nullptr;
  double* capPriority = nullptr;
  int32_t* capSystemRank = nullptr;
  // Plan.
  int32_t* touched = nullptr;
  int32_t* ops = nullptr;
  int32_t* planRows = nullptr;
  // Dimensions.
  double* clampMin = nullptr;
  double* clampMax = nullptr;
  int32_t* usePipeline = nullptr;
  int32_t* op = nullptr;
  double* softRatio = nullptr;
  // Out.
  double* primaryOut = nullptr;
  double* derivedOut = nullptr;
  double* boundsOut = nullptr;
  // Scratch.
  int32_t* order = nullptr;
  int32_t orderLength = 0;
  int32_t* sortCaps = nullptr;
  int32_t sortLength = 0;
};

// Per thread (each worker thread has its own environment): set from the instance data per call.
struct State {
  Arrays arrays;
  Napi::Reference<Napi::Array> kept;
};
thread_local Arrays arrays;

double jsMin(double a, double b) {
  if (a < b) return a;
  if (b < a) return b;
  if (a == 0 && b == 0) return std::signbit(a) ? a : b;
  return a;
}

double jsMax(double a, double b) {
  if (a > b) return a;
  if (b > a) return b;
  if (a == 0 && b == 0) return std::signbit(a) ? b : a;
  return a;
}

int compareValues(double a, double b) {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a == 0 && b == 0) {
    const bool na = std::signbit(a);
    const bool nb = std::signbit(b);
    if (na && !nb) return -1;
    if (!na && nb) return 1;
  }
  return 0;
}

// R1 within a cell: priority desc, system asc, value asc.
int compareRows(int32_t a, int32_t b) {
  const double priority = arrays.priorities[b] - arrays.priorities[a];
  if (priority != 0) return priority < 0 ? -1 : 1;
  const int32_t sa = arrays.systemRank[a];
  const int32_t sb = arrays.systemRank[b];
  if (sa != sb) return sa < sb ? -1 : 1;
  return compareValues(arrays.values[a], arrays.values[b]);
}

int32_t sortedCell(int32_t cell) {
  int32_t n = 0;
  for (int32_t row = arrays.cellHead[cell]; row >= 0; row = arrays.next[row]) {
    int32_t j = n - 1;
    while (j >= 0 && compareRows(arrays.order[j], row) > 0) {
      arrays.order[j + 1] = arrays.order[j];
      j--;
    }
    arrays.order[j + 1] = row;
    n++;
  }
  return n;
}

double sumCell(int32_t cell) {
  const int32_t n = arrays.cellCount[cell];
  if (n == 0) return 0;
  const int32_t head = arrays.cellHead[cell];
  if (n == 1) return 0 + arrays.values[head];
  if (n == 2) return 0 + arrays.values[head] + arrays.values[arrays.next[head]];
  sortedCell(cell);
  double sum = 0;
  for (int32_t i = 0; i < n; i++) sum += arrays.values[arrays.order[i]];
  return sum;
}

double factorOfCell(int32_t cell) {
  const int32_t n = arrays.cellCount[cell];
  if (n == 0) return 1;
  const int32_t head = arrays.cellHead[cell];
  if (n == 1) return 1 * (1 + arrays.values[head]);
  if (n == 2) return 1 * (1 + arrays.values[head]) * (1 + arrays.values[arrays.next[head]]);
  sortedCell(cell);
  double factor = 1;
  for (int32_t i = 0; i < n; i++) factor *= 1 + arrays.values[arrays.order[i]];
  return factor;
}

double candidate(int32_t base, int32_t total, int32_t dim) {
  const int32_t* count = arrays.cellCount;
  const int32_t* head = arrays.cellHead;
  const double* values = arrays.values;
  if (count[base + 3] > 0) {
    int32_t best = head[base + 3];
    for (int32_t row = arrays.next[best]; row >= 0; row = arrays.next[row]) {
      if (compareRows(row, best) < 0) best = row;
    }
    return values[best];
  }
  const bool pipeline = arrays.usePipeline[dim] != 0;
  if (total == 1) {
    const int32_t cell = count[base] > 0 ? base : count[base + 1] > 0 ? base + 1 : base + 2;
    const double value = values[head[cell]];
    if (!pipeline) return value;
    return cell == base + 1 ? 0 : value + 0;
  }
  if (pipeline) return sumCell(base) * factorOfCell(base + 1) + sumCell(base + 2);
  const int32_t op = arrays.op[dim];
  if (op != 0) {
    double result = op == 1 ? -kInf : kInf;
    for (int32_t cell = base; cell < base + 3; cell++) {
      for (int32_t row = head[cell]; row >= 0; row = arrays.next[row]) {
        result = op == 1 ? jsMax(result, values[row]) : jsMin(result, values[row]);
      }
    }
    return result;
  }
  double result = 0;
  bool first = true;
  for (int32_t cell = base; cell < base + 3; cell++) {
    const int32_t n = count[cell];
    if (n == 0) continue;
    if (n == 1) {
      const double value = values[head[cell]];
      if (first) {
        result = value;
        first = false;
      } else {
        result += value;
      }
      continue;
    }
    sortedCell(cell);
    for (int32_t i = 0; i < n; i++) {
      const double value = values[arrays.order[i]];
      if (first) {
        result = value;
        first = false;
      } else {
        result += value;
      }
    }
  }
  return result;
}

double candidateOf(int32_t op, int32_t row, int32_t base, int32_t dim) {
  if (op == 1) return arrays.values[row];
  if (op == 2) return arrays.values[row] + 0;
  if (op == 3) return 0;
  const int32_t* count = arrays.cellCount;
  return candidate(base, count[base] + count[base + 1] + count[base + 2] + count[base + 3], dim);
}

// R1 for caps: mode rank, priority desc, system asc, value asc.
int compareCaps(int32_t a, int32_t b) {
  const int32_t mode = arrays.capRank[a] - arrays.capRank[b];
  if (mode != 0) return mode;
  const double priority = arrays.capPriority[b] - arrays.capPriority[a];
  if (priority != 0) return priority < 0 ? -1 : 1;
  const int32_t sa = arrays.capSystemRank[a];
  const int32_t sb = arrays.capSystemRank[b];
  if (sa != sb) return sa < sb ? -1 : 1;
  return compareValues(arrays.capValue[a], arrays.capValue[b]);
}

// Rules R4, R5 and R7 for one dimension's caps.
void foldCaps(int32_t dim, bool prioritized, double& outMin, double& outMax, double& outKnee) {
  int32_t* caps = arrays.sortCaps;
  int32_t count = 0;
  for (int32_t row = arrays.capHead[dim]; row >= 0; row = arrays.capNext[row]) {
    const int32_t layer = arrays.capLayers[row];
    int32_t j = count - 1;
    while (j >= 0) {
      const int32_t other = arrays.capLayers[caps[j]];
      if (other < layer || (other == layer && compareCaps(caps[j], row) <= 0)) break;
      caps[j + 1] = caps[j];
      j--;
    }
    caps[j + 1] = row;
    count++;
  }
  const double clampMin = arrays.clampMin[dim];
  const double clampMax = arrays.clampMax[dim];
  double knee = kInf;
  double min = -kInf;
  double max = kInf;
  double overrideMin = 0;
  double overrideMax = 0;
  bool hasOverrideMin = false;
  bool hasOverrideMax = false;
  int32_t i = 0;
  while (i < count) {
    const int32_t layer = arrays.capLayers[caps[i]];
    double baselineMax = 0, additiveMax = 0, baselineMin = 0, additiveMin = 0;
    bool sumMax = false, sumMin = false;
    double layerOverrideMax = 0, layerOverrideMin = 0;
    bool layerHasOverrideMax = false, layerHasOverrideMin = false;
    double hardMax = kInf, hardMin = -kInf;
    bool present = false;
    for (; i < count && arrays.capLayers[caps[i]] == layer; i++) {
      const int32_t cap = caps[i];
      const double value = arrays.capValue[cap];
      const bool isMax = arrays.capIsMax[cap] != 0;
      switch (arrays.capRank[cap]) {
        case 0:
          if (isMax) {
            baselineMax += value;
            sumMax = true;
          } else {
            baselineMin += value;
            sumMin = true;
          }
          present = true;
          break;
        case 1:
          if (isMax) {
            additiveMax += value;
            sumMax = true;
          } else {
            additiveMin += value;
            sumMin = true;
          }
          present = true;
          break;
        case 2:
          if (value < hardMax) hardMax = value;
          present = true;
          break;
        case 3:
          if (value > hardMin) hardMin = value;
          present = true;
          break;
        case 4:
          if (isMax) {
            if (!layerHasOverrideMax) {
              layerOverrideMax = value;
              layerHasOverrideMax = true;
            }
          } else if (!layerHasOverrideMin) {
            layerOverrideMin = value;
            layerHasOverrideMin = true;
          }
          present = true;
          break;
        default:
          if (value < knee) knee = value;
      }
    }
    if (!present) continue;
    const double candidateMax = layerHasOverrideMax ? layerOverrideMax
                                : sumMax            ? baselineMax + additiveMax
                                                    : kInf;
    const double candidateMin = layerHasOverrideMin ? layerOverrideMin
                                : sumMin            ? baselineMin + additiveMin
                                                    : -kInf;
    const double layerMax = jsMin(jsMin(candidateMax, hardMax), clampMax);
    double layerMin = jsMax(jsMax(candidateMin, hardMin), clampMin);
    if (layerMin > layerMax) layerMin = layerMax;
    if (prioritized && layerHasOverrideMax) {
      if (!hasOverrideMax) {
        overrideMax = layerMax;
        hasOverrideMax = true;
      }
    } else if (layerMax < max) {
      max = layerMax;
    }
    if (prioritized && layerHasOverrideMin) {
      if (!hasOverrideMin) {
        overrideMin = layerMin;
        hasOverrideMin = true;
      }
    } else if (layerMin > min) {
      min = layerMin;
    }
  }
  if (hasOverrideMax) max = overrideMax;
  if (hasOverrideMin) min = overrideMin;
  if (clampMin > min) min = clampMin;
  if (clampMax < max) max = clampMax;
  if (min > max) min = max;
  outMin = min;
  outMax = max;
  outKnee = knee;
}

// R7 and R6; false when the value overflowed (NaN).
bool finalValue(double value, double knee, int32_t dim, double min, double max, double& out) {
  double softened = value;
  if (softened > knee) {
    const double ratio = arrays.softRatio[dim];
    softened = ratio == 0 ? knee : knee + (softened - knee) * ratio;
  }
  if (std::isnan(softened)) return false;
  out = jsMin(jsMax(softened, min), max);
  return true;
}

template <typename T>
T* dataOf(const Napi::Value& value) {
  Napi::TypedArray array = value.As<Napi::TypedArray>();
  uint8_t* base = static_cast<uint8_t*>(array.ArrayBuffer().Data());
  return reinterpret_cast<T*>(base + array.ByteOffset());
}

int32_t lengthOf(const Napi::Value& value) {
  return static_cast<int32_t>(value.As<Napi::TypedArray>().ElementLength());
}

// bind(list): the typed arrays, in the order of `Arrays`; kept alive until the next bind.
Napi::Value Bind(const Napi::CallbackInfo& info) {
  Napi::Array list = info[0].As<Napi::Array>();
  State* state = info.Env().GetInstanceData<State>();
  state->kept.Reset(list, 1);
  uint32_t i = 0;
  auto f64 = [&]() { return dataOf<double>(list.Get(i++)); };
  auto i32 = [&]() { return dataOf<int32_t>(list.Get(i++)); };
  arrays.values = f64();
  arrays.priorities = f64();
  arrays.next = i32();
  arrays.systemRank = i32();
  arrays.cellHead = i32();
  arrays.cellCount = i32();
  arrays.capHead = i32();
  arrays.capNext = i32();
  arrays.capTotal = i32();
  arrays.capLayers = i32();
  arrays.capRank = i32();
  arrays.capIsMax = i32();
  arrays.capValue = f64();
  arrays.capPriority = f64();
  arrays.capSystemRank = i32();
  arrays.touched = i32();
  arrays.ops = i32();
  arrays.planRows = i32();
  arrays.clampMin = f64();
  arrays.clampMax = f64();
  arrays.usePipeline = i32();
  arrays.op = i32();
  arrays.softRatio = f64();
  arrays.primaryOut = f64();
  arrays.derivedOut = f64();
  arrays.boundsOut = f64();
  arrays.orderLength = lengthOf(list.Get(i));
  arrays.order = i32();
  arrays.sortLength = lengthOf(list.Get(i));
  arrays.sortCaps = i32();
  state->arrays = arrays;
  return info.Env().Undefined();
}

// fold(count, prioritized): -1, or the touched position whose value overflowed.
Napi::Value Fold(const Napi::CallbackInfo& info) {
  arrays = info.Env().GetInstanceData<State>()->arrays;
  const int32_t count = info[0].As<Napi::Number>().Int32Value();
  const bool prioritized = info[1].As<Napi::Boolean>().Value();
  int32_t primaryCount = 0;
  int32_t derivedCount = 0;
  for (int32_t i = 0; i < count; i++) {
    const int32_t dim = arrays.touched[i];
    double min = arrays.clampMin[dim];
    double max = arrays.clampMax[dim];
    double knee = kInf;
    if (arrays.capTotal[dim] > 0) foldCaps(dim, prioritized, min, max, knee);
    arrays.boundsOut[2 * i] = min;
    arrays.boundsOut[2 * i + 1] = max;
    const int32_t base = dim * 8;
    for (int32_t section = 0; section < 2; section++) {
      const int32_t op = arrays.ops[2 * i + section];
      if (op == 0) continue;
      const double value = candidateOf(op, arrays.planRows[2 * i + section], base + 4 * section, dim);
      double out = 0;
      if (!finalValue(value, knee, dim, min, max, out)) return Napi::Number::New(info.Env(), i);
      if (section == 0) arrays.primaryOut[primaryCount++] = out;
      else arrays.derivedOut[derivedCount++] = out;
    }
  }
  return Napi::Number::New(info.Env(), -1);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new State());
  exports.Set("bind", Napi::Function::New(env, Bind));
  exports.Set("fold", Napi::Function::New(env, Fold));
  return exports;
}

}  // namespace

NODE_API_MODULE(fold_kernel, Init)
