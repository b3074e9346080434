#include "core/checks/cpu_allocation_meter.h"

#include <atomic>
#include <memory>
#include <stdexcept>

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

namespace rdpo {
namespace {

struct Counters {
  std::atomic<int64_t> current{0};
  std::atomic<int64_t> peak{0};
  void add(int64_t n) {
    int64_t now = current.fetch_add(n) + n;
    int64_t seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
  }
};

// Wraps the CPU allocator that was installed first. It is never destroyed: storages allocated
// through it keep a pointer to it (for resize) and may outlive any meter.
class CountingCpuAllocator final : public c10::Allocator {
 public:
  explicit CountingCpuAllocator(c10::Allocator* base) : base_(base) {}

  c10::DataPtr allocate(size_t n) override {
    c10::DataPtr inner = base_->allocate(n);
    std::shared_ptr<Counters> counters = std::atomic_load(&active_);
    if (!counters) return inner;
    void* data = inner.get();
    c10::Device device = inner.device();
    counters->add(static_cast<int64_t>(n));
    auto* ctx = new Allocation{std::move(inner), static_cast<int64_t>(n), std::move(counters)};
    return c10::DataPtr(data, ctx, &Allocation::release, device);
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  void start(std::shared_ptr<Counters> counters) { std::atomic_store(&active_, std::move(counters)); }
  void stop() { std::atomic_store(&active_, std::shared_ptr<Counters>()); }
  c10::Allocator* base() const { return base_; }

 private:
  struct Allocation {
    c10::DataPtr inner;  // freed by the base allocator's deleter when this is deleted
    int64_t bytes;
    std::shared_ptr<Counters> counters;
    static void release(void* ctx) {
      auto* a = static_cast<Allocation*>(ctx);
      a->counters->current.fetch_sub(a->bytes);
      delete a;
    }
  };

  c10::Allocator* base_;
  std::shared_ptr<Counters> active_;
};

CountingCpuAllocator& counting_allocator() {
  static auto* instance = new CountingCpuAllocator(c10::GetAllocator(c10::DeviceType::CPU));
  return *instance;
}

std::shared_ptr<Counters>& live_counters() {
  static std::shared_ptr<Counters> counters;
  return counters;
}

}  // namespace

CpuAllocationMeter::CpuAllocationMeter() {
  if (live_counters()) throw std::logic_error("CpuAllocationMeter: another meter is already counting");
  auto& counting = counting_allocator();
  live_counters() = std::make_shared<Counters>();
  counting.start(live_counters());
  // Highest priority so no registration outranks it while the window is open.
  c10::SetAllocator(c10::DeviceType::CPU, &counting, UINT8_MAX);
}

CpuAllocationMeter::~CpuAllocationMeter() {
  auto& counting = counting_allocator();
  c10::SetAllocator(c10::DeviceType::CPU, counting.base(), UINT8_MAX);
  counting.stop();
  live_counters().reset();
}

int64_t CpuAllocationMeter::peak_bytes() const { return live_counters()->peak.load(); }
int64_t CpuAllocationMeter::current_bytes() const { return live_counters()->current.load(); }

}  // namespace rdpo
