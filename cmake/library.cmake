# liblvit: the public C API (include/lvit.h, src/api) and everything it runs on, as liblvit.a and
# liblvit.so (SONAME liblvit.so.0), installed with the header, the Fortran module source, lvit.pc
# and a CMake package (find_package(lvit) -> lvit::lvit). Included at the end of the top
# CMakeLists.txt, after lvitcore is complete.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

file(GLOB LVIT_API_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/api/*.c)
# the lvit binary and the unit tests (linked to lvitcore) reach the same API
target_sources(lvitcore PRIVATE ${LVIT_API_SOURCES})
target_include_directories(lvitcore PUBLIC ${CMAKE_SOURCE_DIR}/include)

# The library's sources: lvitcore's without the command-line layer (src/cli) and CPU-only: no
# CUDA kernels and no MPI or NCCL communicators (their stand-ins report that there are none), so
# that a host program pulls in neither an MPI of ours nor the CUDA runtime.
get_target_property(LVIT_LIB_SOURCES lvitcore SOURCES)
list(FILTER LVIT_LIB_SOURCES EXCLUDE REGEX "(^|/)src/cli/")
list(FILTER LVIT_LIB_SOURCES EXCLUDE REGEX "\\.cu$")
list(FILTER LVIT_LIB_SOURCES EXCLUDE REGEX "(comm_mpi|comm_mpi_none|comm_nccl|comm_nccl_none|cuda_none)\\.c$")
list(APPEND LVIT_LIB_SOURCES ${CMAKE_SOURCE_DIR}/src/parallel/comm_mpi_none.c
     ${CMAKE_SOURCE_DIR}/src/parallel/comm_nccl_none.c ${CMAKE_SOURCE_DIR}/src/kernels/cuda/cuda_none.c)

# One set of position-independent objects for both libraries.
add_library(lvit_objects OBJECT ${LVIT_LIB_SOURCES})
set_target_properties(lvit_objects PROPERTIES POSITION_INDEPENDENT_CODE ON)
target_include_directories(lvit_objects PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/include
                           ${LVIT_CBLAS_INCLUDE} ${LVIT_NETCDF_INCLUDE} ${LVIT_ECCODES_INCLUDE} ${PNG_INCLUDE_DIRS})
target_link_libraries(lvit_objects PRIVATE OpenMP::OpenMP_C) # the -fopenmp compile flag
# src/core/cpu.c leaves the host program's environment alone in the libraries (see below)
target_compile_definitions(lvit_objects PRIVATE LVIT_LIBRARY)

# OpenBLAS and the OpenMP runtime are linked DYNAMICALLY into the libraries, unlike the lvit binary
# (which links them statically so that src/core/cpu.c's constructor can set OPENBLAS_CORETYPE and
# OMP_WAIT_POLICY before they initialise). On Debian 12 the static libopenblas.a and libgomp.a
# would link into a .so (their objects are PIC), but a library lives in someone else's process: a
# second, private copy of libgomp next to the host's (a climate model using OpenMP) means two
# thread pools fighting over the cores, and a private OpenBLAS exports cblas_* symbols that clash
# with the host's BLAS. The price: the shared libraries initialise before liblvit's constructor
# runs, so the environment decides OpenBLAS's kernel (set OPENBLAS_CORETYPE, e.g. SkylakeX or
# Haswell, before starting the program when Debian's default is slow; docs/api.md).
find_library(LVIT_BLAS_SHARED NAMES openblas HINTS /usr/lib/x86_64-linux-gnu/openblas-openmp
             /usr/lib/aarch64-linux-gnu/openblas-openmp ${LVIT_BLAS_HINTS} NO_DEFAULT_PATH)
if(NOT LVIT_BLAS_SHARED)
  find_library(LVIT_BLAS_SHARED NAMES openblas)
endif()
set(LVIT_LIB_DEPS ${LVIT_BLAS_SHARED} ${LVIT_NETCDF_LIB} ${LVIT_ECCODES_LIB} ${PNG_LIBRARIES} ${OpenMP_C_LIBRARIES} m pthread)

add_library(lvit_shared SHARED $<TARGET_OBJECTS:lvit_objects>)
set_target_properties(lvit_shared PROPERTIES OUTPUT_NAME lvit VERSION ${PROJECT_VERSION} SOVERSION 0 EXPORT_NAME lvit
                      LINK_DEPENDS ${CMAKE_SOURCE_DIR}/cmake/liblvit.map)
target_link_options(lvit_shared PRIVATE "LINKER:--version-script=${CMAKE_SOURCE_DIR}/cmake/liblvit.map"
                    "LINKER:--no-undefined" ${OpenMP_C_FLAGS})
target_link_libraries(lvit_shared PRIVATE ${LVIT_LIB_DEPS})

add_library(lvit_static STATIC $<TARGET_OBJECTS:lvit_objects>)
set_target_properties(lvit_static PROPERTIES OUTPUT_NAME lvit EXPORT_NAME lvit_static)
target_link_libraries(lvit_static INTERFACE ${LVIT_LIB_DEPS})

foreach(t lvit_shared lvit_static)
  target_include_directories(${t} INTERFACE $<BUILD_INTERFACE:${CMAKE_SOURCE_DIR}/include>
                             $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()

# pkg-config: Libs.private for `pkg-config --static` (linking liblvit.a)
get_filename_component(LVIT_BLAS_DIR ${LVIT_BLAS_SHARED} DIRECTORY)
set(LVIT_PC_PRIVATE "-L${LVIT_BLAS_DIR} -lopenblas -lnetcdf -leccodes -lpng -lgomp -lm -lpthread")
file(RELATIVE_PATH LVIT_PC_UP /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" LVIT_PC_UP "${LVIT_PC_UP}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/lvit.pc.in ${CMAKE_BINARY_DIR}/lvit.pc @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/cmake/lvitConfig.cmake.in ${CMAKE_BINARY_DIR}/lvitConfig.cmake @ONLY)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/lvitConfigVersion.cmake VERSION ${PROJECT_VERSION}
                                 COMPATIBILITY SameMinorVersion)

install(TARGETS lvit_shared lvit_static EXPORT lvitTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/lvit.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_SOURCE_DIR}/bindings/fortran/lvit.f90 DESTINATION ${CMAKE_INSTALL_DATADIR}/lvit/fortran)
install(FILES ${CMAKE_BINARY_DIR}/lvit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(EXPORT lvitTargets NAMESPACE lvit:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lvit)
install(FILES ${CMAKE_BINARY_DIR}/lvitConfig.cmake ${CMAKE_BINARY_DIR}/lvitConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/lvit)
