# The install_consumer test (cmake -P): installs a built tapegrad into a scratch prefix, then
# configures, builds and runs tests/consumer against that prefix alone, proving that the
# installed headers and CMake package are complete. Paths arrive as -D arguments:
#   TAPEGRAD_BUILD_DIR  the build tree to install        CONSUMER_SOURCE_DIR  tests/consumer
#   PREFIX              scratch install prefix           CONSUMER_BUILD_DIR   scratch build tree
#   CXX_COMPILER, BUILD_TYPE, CXX_FLAGS                  so the consumer is built like tapegrad
cmake_minimum_required(VERSION 3.25)

foreach(variable TAPEGRAD_BUILD_DIR CONSUMER_SOURCE_DIR PREFIX CONSUMER_BUILD_DIR)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "install_consumer.cmake: -D${variable}=... is required")
  endif()
endforeach()

# Start from nothing, so a header deleted from the tree cannot survive from an earlier install.
file(REMOVE_RECURSE "${PREFIX}" "${CONSUMER_BUILD_DIR}")

execute_process(COMMAND "${CMAKE_COMMAND}" --install "${TAPEGRAD_BUILD_DIR}" --prefix "${PREFIX}"
  COMMAND_ERROR_IS_FATAL ANY)

set(configure_args -S "${CONSUMER_SOURCE_DIR}" -B "${CONSUMER_BUILD_DIR}" "-DCMAKE_PREFIX_PATH=${PREFIX}")
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(BUILD_TYPE)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
endif()
if(CXX_FLAGS)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" ${configure_args} COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${CONSUMER_BUILD_DIR}" --parallel 2 COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND "${CONSUMER_BUILD_DIR}/consumer" COMMAND_ERROR_IS_FATAL ANY)

# The package works without its CUDA module too (a CPU-only deployment): CUDA is then merely
# unavailable, with the reason.
file(GLOB_RECURSE cuda_modules "${PREFIX}/*libtapegrad_cuda*")
if(cuda_modules)
  file(REMOVE ${cuda_modules})
  execute_process(COMMAND "${CONSUMER_BUILD_DIR}/consumer" OUTPUT_VARIABLE output COMMAND_ERROR_IS_FATAL ANY)
  if(NOT output MATCHES "CUDA not available: .*module .* is missing")
    message(FATAL_ERROR "without its CUDA module the consumer printed:\n${output}")
  endif()
  message(STATUS "without the CUDA module: ${output}")
endif()
