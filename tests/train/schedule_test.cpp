// Tests for train/schedule: warm-up values, the cosine curve and argument validation.

#include "train/schedule.h"

#include <cmath>

#include <c10/util/Exception.h>
#include <gtest/gtest.h>

namespace pretext {
namespace {

TEST(ScheduleTest, LinearWarmupEndsAtBaseLr) {
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(1.0, 0.0, 0, 4, 20), 0.25);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(1.0, 0.0, 1, 4, 20), 0.5);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(1.0, 0.0, 3, 4, 20), 1.0);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(1.0, 0.0, 4, 4, 20), 1.0);  // first cosine step, t = 0
}

TEST(ScheduleTest, CosineMidpointAndEnd) {
  // 10 warm-up steps, 100 decay steps: halfway through decay the lr is the mean.
  EXPECT_NEAR(warmup_cosine_lr(2.0, 0.2, 60, 10, 110), 1.1, 1e-12);
  EXPECT_NEAR(warmup_cosine_lr(2.0, 0.2, 35, 10, 110), 0.2 + 1.8 * (1 + std::cos(M_PI / 4)) / 2,
              1e-12);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(2.0, 0.2, 110, 10, 110), 0.2);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(2.0, 0.2, 500, 10, 110), 0.2);  // past the end: clamped
  EXPECT_GT(warmup_cosine_lr(2.0, 0.2, 109, 10, 110), 0.2);
}

TEST(ScheduleTest, NoWarmupStartsAtBaseLr) {
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(0.5, 0.0, 0, 0, 10), 0.5);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(0.5, 0.0, 0, 0, 1), 0.5);
}

TEST(ScheduleTest, AllWarmupIsJustWarmup) {
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(1.0, 0.0, 0, 5, 5), 0.2);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(1.0, 0.0, 4, 5, 5), 1.0);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(1.0, 0.0, 5, 5, 5), 1.0);
}

TEST(ScheduleTest, MonotoneAfterWarmup) {
  double previous = warmup_cosine_lr(1.0, 1e-3, 0, 7, 57);
  for (int64_t step = 1; step <= 57; ++step) {
    const double lr = warmup_cosine_lr(1.0, 1e-3, step, 7, 57);
    if (step < 7) {
      EXPECT_GT(lr, previous) << "step " << step;
    } else if (step > 7) {
      EXPECT_LT(lr, previous) << "step " << step;
    }
    EXPECT_GE(lr, 1e-3);
    EXPECT_LE(lr, 1.0);
    previous = lr;
  }
}

TEST(ScheduleTest, RejectsBadArguments) {
  EXPECT_THROW(warmup_cosine_lr(1.0, 0.0, 0, 0, 0), c10::Error);
  EXPECT_THROW(warmup_cosine_lr(1.0, 0.0, 0, -1, 10), c10::Error);
  EXPECT_THROW(warmup_cosine_lr(1.0, 0.0, 0, 11, 10), c10::Error);
  EXPECT_THROW(warmup_cosine_lr(1.0, 0.0, -1, 0, 10), c10::Error);
  try {
    warmup_cosine_lr(1.0, 0.0, 0, 11, 10);
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("11"), std::string::npos) << e.what();
  }
}

TEST(ScheduleTest, CosineRampRunsFromBaseToFinalWithoutWarmup) {
  // DINO's weight decay 0.04 -> 0.4 over 100 steps.
  EXPECT_DOUBLE_EQ(cosine_ramp(0.04, 0.4, 0, 100), 0.04);
  EXPECT_NEAR(cosine_ramp(0.04, 0.4, 50, 100), 0.22, 1e-12);
  EXPECT_NEAR(cosine_ramp(0.04, 0.4, 25, 100), 0.4 + (0.04 - 0.4) * (1 + std::cos(M_PI / 4)) / 2,
              1e-12);
  EXPECT_DOUBLE_EQ(cosine_ramp(0.04, 0.4, 100, 100), 0.4);
  EXPECT_DOUBLE_EQ(cosine_ramp(0.04, 0.4, 300, 100), 0.4);
  EXPECT_THROW(cosine_ramp(0.04, 0.4, 0, 0), c10::ValueError);
}

}  // namespace
}  // namespace pretext
