add_library(pretext_train_blocks STATIC
  optimizer.cpp
  schedule.cpp
  gradient_clipping.cpp
  tensor_file.cpp
  metrics_log.cpp
  mixed_precision.cpp
  text_file.cpp
)
target_link_libraries(pretext_train_blocks PUBLIC pretext_options ZLIB::ZLIB)
pretext_use_pch(pretext_train_blocks)
